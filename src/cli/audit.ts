// `bulwark audit verify | query`: checks the audit log's hash chain and searches it, straight
// through the audit service (never over HTTP), so it works while the server is down.
import { help, parseStrict as parse, UsageError, usageExit, type Write } from "./common.js";
import {
  CHAIN_HEAD_MARKER,
  type AuditEventView,
  type AuditFilters,
  type AuditResult,
  type AuditService,
} from "../modules/audit/index.js";
import { AppError } from "../core/errors.js";
import { withConfiguredServices } from "./services.js";

const HELP = `Usage: bulwark audit <verify | query> [options]

  verify   recompute the audit log's hash chain; exit 1 if a row was edited, inserted or deleted
  query    search the audit log, newest first

Run "bulwark audit <subcommand> --help" for its options.`;

const VERIFY_HELP = `Usage: bulwark audit verify

Walks the audit log in chain order, recomputes every row's hash, checks each link and the chain
head. Prints "ok: N rows checked" (exit 0) or "TAMPERED: first bad row <id> (N checked)" (exit 1).
"first bad row chain_head" means rows are missing after the last one that verifies (the newest
rows were deleted) or the chain head itself was removed.`;

const QUERY_HELP = `Usage: bulwark audit query [options]

  --event-type TYPE   only this event type (e.g. auth.login)
  --user-id ID        only events whose actor is this user
  --ip ADDRESS        only events from this client IP
  --result R          success | failure | denied
  --since ISO         events at or after this time (e.g. 2026-01-01T00:00:00Z)
  --until ISO         events before this time
  --limit N           at most N events (default 50, at most 100000)
  --json              one JSON object per line instead of a table`;

const RESULTS: readonly AuditResult[] = ["success", "failure", "denied"];
const PAGE = 200;
const MAX_LIMIT = 100_000;

/** Runs `bulwark audit …`; returns the exit code (0 ok, 1 tampered or failed, 2 usage). */
export async function auditCommand(
  argv: string[],
  out: Write = console.log,
  err: Write = (line) => process.stderr.write(`bulwark: ${line}\n`),
): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case "verify": {
        parse(rest, {});
        if (wantsHelp(rest)) return help(out, VERIFY_HELP);
        return await withAudit(err, async (audit) => {
          const outcome = await audit.verify();
          if (outcome.ok) {
            out(`ok: ${outcome.checked} rows checked`);
            return 0;
          }
          out(`TAMPERED: first bad row ${outcome.first_bad_id ?? "unknown"} (${outcome.checked} checked)`);
          if (outcome.first_bad_id === CHAIN_HEAD_MARKER)
            out("  the newest rows were deleted after the last row that verifies, or the chain head was removed");
          return 1;
        });
      }
      case "query": {
        const values = parse(rest, {
          "event-type": { type: "string" },
          "user-id": { type: "string" },
          ip: { type: "string" },
          result: { type: "string" },
          since: { type: "string" },
          until: { type: "string" },
          limit: { type: "string" },
          json: { type: "boolean" },
        });
        if (values.help) return help(out, QUERY_HELP);
        const filters = queryFilters(values);
        const limit = values.limit === undefined ? 50 : integer("--limit", values.limit);
        return await withAudit(err, async (audit) => {
          const events = await collect(audit, filters, limit);
          if (values.json) for (const event of events) out(JSON.stringify(event));
          else for (const line of table(events)) out(line);
          return 0;
        });
      }
      case undefined:
      case "--help":
      case "-h":
      case "help":
        return help(out, HELP);
      default:
        throw new UsageError(`unknown audit subcommand "${sub}"`);
    }
  } catch (error) {
    const usage = usageExit(error, "audit", sub, err);
    if (usage !== undefined) return usage;
    if (error instanceof AppError) {
      err(error.message);
      return 2;
    }
    throw error;
  }
}

function wantsHelp(args: string[]): boolean {
  return args.includes("--help") || args.includes("-h");
}

function queryFilters(values: Record<string, string | boolean | undefined>): AuditFilters {
  const str = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === "string" ? value : undefined;
  };
  const result = str("result");
  if (result !== undefined && !RESULTS.includes(result as AuditResult))
    throw new UsageError(`--result must be one of ${RESULTS.join(", ")}`);
  return {
    eventType: str("event-type"),
    userId: str("user-id"),
    ip: str("ip"),
    result: result as AuditResult | undefined,
    since: date("--since", str("since")),
    until: date("--until", str("until")),
  };
}

function date(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const parsed = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(parsed.getTime()))
    throw new UsageError(`${name} must be an ISO date or date-time, got "${value}"`);
  return parsed;
}

function integer(name: string, value: string | boolean | undefined): number {
  const n = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || n < 1 || n > MAX_LIMIT)
    throw new UsageError(`${name} must be a whole number from 1 to ${MAX_LIMIT}`);
  return n;
}

/** Runs `body` with the audit service of the configured runtime. */
function withAudit(err: Write, body: (audit: AuditService) => Promise<number>): Promise<number> {
  return withConfiguredServices(err, ({ audit }) => body(audit));
}

/** Pages through the service until `limit` events are gathered or the log ends. */
async function collect(audit: AuditService, filters: AuditFilters, limit: number): Promise<AuditEventView[]> {
  const events: AuditEventView[] = [];
  let cursor: string | undefined;
  while (events.length < limit) {
    const page = await audit.query({ ...filters, cursor, limit: Math.min(PAGE, limit - events.length) });
    events.push(...page.events);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return events;
}

/** A plain-text table, one event a line; control characters are escaped so a logged value cannot forge lines. */
function table(events: AuditEventView[]): string[] {
  if (events.length === 0) return ["(no events)"];
  const rows = events.map((e) => [
    e.at,
    e.event_type,
    e.result,
    e.actor.user_id ?? "-",
    e.actor.key_id ?? "-",
    e.ip ?? "-",
    e.target ?? "-",
    e.id,
  ]);
  const head = ["AT", "EVENT", "RESULT", "USER", "KEY", "IP", "TARGET", "ID"];
  const all = [head, ...rows].map((row) => row.map(printable));
  const widths = head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd(),
  );
}

function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  return JSON.stringify(value)
    .slice(1, -1)
    .replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
