// `bulwark users import FILE`: reads a CSV or JSON export of another backend's users, turns each record into an
// account (a preset per system, or an explicit column mapping) and hands the rows to the accounts service, which
// checks them against the database and writes them in one transaction. Passwords never pass through here: the
// source's hashes are kept and upgraded to Argon2id at each user's next login.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parseArgs } from "node:util";
import { CsvError, parse as parseCsv } from "csv-parse/sync";
import type { Config } from "../config/types.js";
import {
  ImportRaceError,
  type ImportProgress,
  type ImportReject,
  type ImportReport,
  type ImportRow,
} from "../modules/accounts/index.js";
import type { Output } from "./output.js";
import { withServices } from "./services.js";

export const IMPORT_HELP = `Usage: bulwark users import FILE [options]

Imports accounts with their password hashes from a CSV (with or without a header line) or JSON file
(an array of objects, or one object a line). Hashes are kept as they are (bcrypt $2a$/$2b$/$2y$,
Argon2, Better Auth's scrypt) and replaced by Argon2id at each user's next login.

Options:
  --preset NAME        fastapi-users | supabase | better-auth | csv (username,email,password_hash);
                       without it, the preset is recognised from the column names
  --map COL=FIELD,...  take FIELD from column COL (over the preset): username, email, password_hash,
                       email_verified, admin, role, disabled, display_name
  --accounts FILE      better-auth: the account table, when FILE is the user table alone
  --dry-run            check every row against the database, write nothing
  --skip-rejected      import the valid rows even when some are rejected (default: nothing is
                       written unless every row is valid)

Every rejected row is listed with its line and reason; the exit status is then 1. An address that
already has an account is left alone (unchanged), so running a file twice changes nothing.
Details: docs/operations.md#bulwark-users-import-file`;

/** A record of the file by column name, with where it starts ("line 12", or "record 3" of a JSON array). */
export type SourceRecord = { line: number; values: Record<string, unknown> };

export type ReadResult = {
  records: SourceRecord[];
  rejected: ImportReject[];
  /** Column names as written (for detecting the preset); empty for a headerless CSV. */
  columns: string[];
  /** Headerless CSV: the fields of each record, named by the preset's column order later. */
  headerless: boolean;
  unit: "line" | "record";
};

/** A column name compared without case, spaces, `_` or `-`: `email_verified`, `emailVerified`, `Email Verified`. */
const norm = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, "");

// A record longer than this stops the read at its line: nothing legitimate is near it, and a file of one endless
// line must not be held in memory as a field. Shorter oversized fields are rejected row by row.
const MAX_RECORD_BYTES = 64 * 1024;
const MAX_FIELD = 4096;

/** Thrown for a file that cannot be read as a whole (not CSV, not JSON, a record past the size limit). */
export class ImportFileError extends Error {}

/** Reads CSV or JSON text into records; rows that cannot be records are rejected with their line. */
export function readImportText(text: string, name = "import.csv"): ReadResult {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const ext = extname(name).toLowerCase();
  const first = body.trimStart()[0];
  if (ext === ".jsonl" || ext === ".ndjson" || (first === "{" && ext !== ".csv")) return readJsonLines(body);
  if (ext === ".json" || first === "[") return readJsonArray(body);
  return readCsv(body);
}

function readJsonArray(text: string): ReadResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ImportFileError(`not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new ImportFileError("a JSON file must hold an array of objects (one a user)");
  const result: ReadResult = { records: [], rejected: [], columns: [], headerless: false, unit: "record" };
  const columns = new Set<string>();
  parsed.forEach((value, i) => {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      result.rejected.push({ line: i + 1, reason: "not an object" });
    else {
      for (const key of Object.keys(value)) columns.add(key);
      result.records.push({ line: i + 1, values: value as Record<string, unknown> });
    }
  });
  result.columns = [...columns];
  return result;
}

function readJsonLines(text: string): ReadResult {
  const result: ReadResult = { records: [], rejected: [], columns: [], headerless: false, unit: "line" };
  const columns = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === "") return;
    if (raw.length > MAX_RECORD_BYTES) {
      result.rejected.push({ line: i + 1, reason: `longer than ${MAX_RECORD_BYTES} characters` });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      result.rejected.push({ line: i + 1, reason: "not valid JSON" });
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      result.rejected.push({ line: i + 1, reason: "not an object" });
      return;
    }
    for (const key of Object.keys(value)) columns.add(key);
    result.records.push({ line: i + 1, values: value as Record<string, unknown> });
  });
  result.columns = [...columns];
  return result;
}

const KNOWN_COLUMNS = new Set(
  [
    "email",
    "username",
    "password_hash",
    "hashed_password",
    "encrypted_password",
    "password",
    "emailVerified",
    "is_verified",
  ].map(norm),
);

function readCsv(text: string): ReadResult {
  let parsed: { record: string[]; info: { lines: number; empty_lines: number } }[];
  try {
    parsed = parseCsv(text, {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      max_record_size: MAX_RECORD_BYTES,
    }) as unknown as typeof parsed;
  } catch (error) {
    if (error instanceof CsvError) throw new ImportFileError(`not valid CSV: ${error.message}`);
    throw error;
  }
  const result: ReadResult = { records: [], rejected: [], columns: [], headerless: true, unit: "line" };
  // csv-parse reports the line a record ends on; a report names the line it starts on.
  let previousEnd = 0;
  let previousEmpty = 0;
  const rows = parsed.map(({ record, info }) => {
    const line = previousEnd + 1 + (info.empty_lines - previousEmpty);
    previousEnd = info.lines;
    previousEmpty = info.empty_lines;
    return { line, record };
  });
  // A header names at least one known column; a first row of data holds an address, never such a name.
  const header = rows[0] && rows[0].record.some((cell) => KNOWN_COLUMNS.has(norm(cell))) ? rows.shift() : undefined;
  if (header) {
    result.headerless = false;
    result.columns = header.record;
  }
  for (const { line, record: fields } of rows) {
    const record = rejoinArgon2(fields);
    if (header && record.length !== header.record.length) {
      result.rejected.push({ line, reason: `${record.length} fields where the header has ${header.record.length}` });
      continue;
    }
    const names = header ? header.record : record.map((_, i) => String(i));
    result.records.push({ line, values: Object.fromEntries(names.map((n, i) => [n, record[i]])) });
  }
  return result;
}

const ARGON2_HEAD = /^\$argon2(?:id|i|d)\$v=\d+\$m=\d+$/;

/**
 * An Argon2 PHC string written into a CSV without quotes (`$argon2id$v=19$m=19456,t=2,p=1$…`) is split at its two
 * commas: put it back together. Only that exact shape (`…$m=N`, `t=N`, `p=N$…`) is joined.
 */
function rejoinArgon2(record: string[]): string[] {
  const i = record.findIndex((field) => ARGON2_HEAD.test(field));
  if (i < 0 || !/^t=\d+$/.test(record[i + 1] ?? "") || !/^p=\d+\$/.test(record[i + 2] ?? "")) return record;
  return [...record.slice(0, i), record.slice(i, i + 3).join(","), ...record.slice(i + 3)];
}

/** Why a record cannot be imported (thrown by the presets, reported with its line). */
class RowError extends Error {}

/** Reads a record's values by normalised column name. */
type Get = (...names: string[]) => unknown;

const TRUE = new Set(["true", "t", "1", "yes", "y"]);
const FALSE = new Set(["false", "f", "0", "no", "n", ""]);

/** A yes/no value: booleans, `true`/`t`/`1`/`yes` and their opposites, or a timestamp (set: yes); empty or null: no. */
function flag(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "string") {
    const v = value.trim().toLowerCase();
    if (TRUE.has(v)) return true;
    if (FALSE.has(v) || v === "null") return false;
    if (!Number.isNaN(time(value.trim()))) return true;
  }
  throw new RowError(`${field} is not a yes/no value`);
}

/** A text value (numbers as written); undefined for empty or null. */
function text(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") return String(value);
  if (typeof value !== "string") throw new RowError(`${field} is not text`);
  if (value.length > MAX_FIELD) throw new RowError(`${field} is longer than ${MAX_FIELD} characters`);
  return value === "" ? undefined : value;
}

/** A JSON object held as an object (JSON files) or as JSON text (CSV cells); undefined when empty. */
function object(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new RowError(`${field} is not JSON`);
    }
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new RowError(`${field} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

/** Whether a role value names the admin role: `admin`, or a list (`admin,user`, `["admin"]`) holding it. */
function isAdminRole(value: unknown): boolean {
  if (Array.isArray(value)) return value.some((v) => v === "admin");
  if (typeof value !== "string") return false;
  return value
    .split(",")
    .map((r) => r.trim().toLowerCase())
    .includes("admin");
}

/** A timestamp as ISO 8601 or PostgreSQL writes it (`2024-03-01 10:00:00.123+00`), in ms; NaN for anything else. */
function time(value: string): number {
  if (!/^\d{4}-\d\d-\d\d(?:[ T]|$)/.test(value)) return Number.NaN;
  return Date.parse(value.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00"));
}

/** A timestamp in the future (a ban that still runs). */
function future(value: unknown, now: number): boolean {
  const t = typeof value === "string" ? time(value) : Number.NaN;
  return !Number.isNaN(t) && t > now;
}

type Fields = Omit<ImportRow, "line">;

export type Preset = {
  description: string;
  /** Column order of a headerless CSV (only for the formats that have a fixed one). */
  columns?: readonly string[];
  /** Whether the (normalised) column names look like this system's export. */
  detect(columns: ReadonlySet<string>): boolean;
  toRow(get: Get, context: { now: number; passwords?: ReadonlyMap<string, string> }): Fields;
};

export const PRESETS: Record<string, Preset> = {
  // fastapi-users' SQLAlchemy `user` table: id (UUID), email, hashed_password (bcrypt through passlib or pwdlib;
  // Argon2 in recent versions), is_active, is_superuser, is_verified. It has no username: one is made from the email.
  "fastapi-users": {
    description: "fastapi-users' user table (id, email, hashed_password, is_active, is_superuser, is_verified)",
    columns: ["id", "email", "hashed_password", "is_active", "is_superuser", "is_verified"],
    detect: (c) => c.has("hashedpassword"),
    toRow: (get) => ({
      email: text(get("email"), "email") ?? "",
      passwordHash: text(get("hashed_password"), "hashed_password") ?? "",
      // An inactive account stays locked out here too.
      disabled: get("is_active") === undefined ? false : !flag(get("is_active"), "is_active"),
      admin: flag(get("is_superuser"), "is_superuser"),
      emailVerified: flag(get("is_verified"), "is_verified"),
    }),
  },
  // Supabase's auth.users (GoTrue): email, encrypted_password (bcrypt $2a$), email_confirmed_at, raw_app_meta_data
  // (set by the server only), raw_user_meta_data (editable by the user: only a display name is taken from it),
  // banned_until, deleted_at, is_anonymous. Its `role` column is the PostgreSQL role ("authenticated"), not an
  // application role, and is ignored.
  supabase: {
    description: "Supabase auth.users (email, encrypted_password, email_confirmed_at, raw_app_meta_data, …)",
    detect: (c) => c.has("encryptedpassword"),
    toRow: (get, { now }) => {
      if (text(get("deleted_at"), "deleted_at")) throw new RowError("deleted in Supabase (deleted_at is set)");
      if (get("is_anonymous") !== undefined && flag(get("is_anonymous"), "is_anonymous"))
        throw new RowError("an anonymous Supabase user (no email and password)");
      const passwordHash = text(get("encrypted_password"), "encrypted_password");
      if (!passwordHash)
        throw new RowError("no password (signs in with a provider or a magic link): nothing to sign in with here");
      const app = object(get("raw_app_meta_data"), "raw_app_meta_data") ?? {};
      const user = object(get("raw_user_meta_data"), "raw_user_meta_data") ?? {};
      const name = user["full_name"] ?? user["name"];
      return {
        email: text(get("email"), "email") ?? "",
        passwordHash,
        emailVerified: flag(get("email_confirmed_at") ?? get("confirmed_at"), "email_confirmed_at"),
        admin: isAdminRole(app["role"]) || isAdminRole(app["roles"]),
        disabled: future(get("banned_until"), now),
        displayName: typeof name === "string" && name.trim() !== "" ? name.trim().slice(0, 100) : undefined,
      };
    },
  },
  csv: {
    description: "username,email,password_hash (and optional email_verified, role, display_name columns)",
    columns: ["username", "email", "password_hash"],
    detect: (c) => c.has("passwordhash"),
    toRow: (get) => ({
      username: text(get("username"), "username"),
      email: text(get("email"), "email") ?? "",
      passwordHash: text(get("password_hash"), "password_hash") ?? "",
      emailVerified: flag(get("email_verified"), "email_verified"),
      admin: isAdminRole(get("role")),
      displayName: text(get("display_name"), "display_name"),
    }),
  },
  // Better Auth: the `user` table (id, name, email, emailVerified; role and banned with the admin plugin; username
  // with the username plugin) and the `account` table, whose row with providerId "credential" holds the hash.
  // Either FILE is a join of both with a `password` column, or --accounts names the account table.
  "better-auth": {
    description: "Better Auth's user table (id, name, email, emailVerified, role) with its account table's password",
    detect: (c) => c.has("emailverified") && c.has("name"),
    toRow: (get, { now, passwords }) => {
      const id = text(get("id"), "id");
      const passwordHash = passwords && id !== undefined ? passwords.get(id) : text(get("password"), "password");
      if (!passwordHash)
        throw new RowError("no credential account (signs in with a provider): nothing to sign in with here");
      const banned = get("banned") !== undefined && flag(get("banned"), "banned");
      const banExpires = text(get("ban_expires"), "banExpires");
      return {
        username: text(get("username"), "username"),
        email: text(get("email"), "email") ?? "",
        passwordHash,
        emailVerified: flag(get("email_verified"), "emailVerified"),
        admin: isAdminRole(get("role")),
        disabled: banned && (banExpires === undefined || future(banExpires, now)),
        displayName: text(get("name"), "name")?.trim().slice(0, 100) || undefined,
      };
    },
  },
};

const MAP_FIELDS = [
  "username",
  "email",
  "password_hash",
  "email_verified",
  "admin",
  "role",
  "disabled",
  "display_name",
] as const;
type MapField = (typeof MAP_FIELDS)[number];

/** Parses `--map col=field,col2=field2` (each option may be repeated). */
export function parseMap(specs: readonly string[]): Map<MapField, string> {
  const map = new Map<MapField, string>();
  for (const spec of specs.flatMap((s) => s.split(","))) {
    const at = spec.lastIndexOf("=");
    const column = spec.slice(0, at).trim();
    const field = spec.slice(at + 1).trim() as MapField;
    if (at <= 0 || column === "") throw new ImportFileError(`--map takes COLUMN=FIELD, got "${spec}"`);
    if (!MAP_FIELDS.includes(field))
      throw new ImportFileError(`--map: unknown field "${field}" (one of ${MAP_FIELDS.join(", ")})`);
    map.set(field, column);
  }
  return map;
}

/** The preset whose columns the file has, or undefined. */
export function detectPreset(columns: readonly string[]): string | undefined {
  const names = new Set(columns.map(norm));
  if (names.has("providerid") && names.has("userid"))
    throw new ImportFileError(
      "this is Better Auth's account table: pass the user table as FILE and this one with --accounts",
    );
  return Object.entries(PRESETS).find(([, preset]) => preset.detect(names))?.[0];
}

/** The password hashes of Better Auth's account table, by user id (the "credential" provider's rows only). */
export function credentialPasswords(read: ReadResult): Map<string, string> {
  const passwords = new Map<string, string>();
  for (const { values } of read.records) {
    const get = getter(values);
    if (get("provider_id") !== "credential") continue;
    const userId = get("user_id");
    const password = get("password");
    if (typeof userId === "string" && typeof password === "string" && password !== "") passwords.set(userId, password);
  }
  return passwords;
}

function getter(values: Record<string, unknown>): Get {
  const byName = new Map(Object.entries(values).map(([k, v]) => [norm(k), v]));
  return (...names) => {
    for (const name of names) {
      const value = byName.get(norm(name));
      if (value !== undefined) return value;
    }
    return undefined;
  };
}

/** Turns records into import rows with a preset and a mapping; what cannot be a row is rejected with its line. */
export function rowsFromRecords(
  read: ReadResult,
  presetName: string,
  map: ReadonlyMap<MapField, string> = new Map(),
  context: { now?: number; passwords?: ReadonlyMap<string, string> } = {},
): { rows: ImportRow[]; rejected: ImportReject[] } {
  const preset = PRESETS[presetName];
  if (!preset) throw new ImportFileError(`unknown preset "${presetName}" (one of ${Object.keys(PRESETS).join(", ")})`);
  if (read.headerless && !preset.columns && map.size === 0)
    throw new ImportFileError(`a ${presetName} CSV needs its header line (the column names)`);
  const rows: ImportRow[] = [];
  const rejected = [...read.rejected];
  const now = context.now ?? Date.now();
  for (const { line, values } of read.records) {
    try {
      let named = values;
      if (read.headerless) {
        const fields = Object.values(values);
        const columns = preset.columns ?? [];
        if (map.size === 0 && fields.length !== columns.length) {
          // The old importer took such a line apart by its first two commas: a UUID became the username and
          // "$2b$12$…,true,true,true" the hash. Refuse, and name the likely source.
          const hint =
            presetName === "csv" && fields.length === 6 && /^\$2[aby]\$/.test(String(fields[2]))
              ? " (a fastapi-users export? use --preset fastapi-users)"
              : " (quote a field that holds a comma)";
          throw new RowError(`${fields.length} fields where ${presetName} has ${columns.length}${hint}`);
        }
        named = Object.fromEntries(fields.map((v, i) => [columns[i] ?? String(i), v]));
      }
      for (const value of Object.values(named))
        if (typeof value === "string" && value.length > MAX_FIELD)
          throw new RowError(`a field is longer than ${MAX_FIELD} characters`);
      const get = getter(named);
      const fields: Fields = {
        ...preset.toRow(get, { now, ...(context.passwords ? { passwords: context.passwords } : {}) }),
      };
      for (const [field, column] of map) {
        const value = get(column);
        if (field === "username") fields.username = text(value, column);
        else if (field === "email") fields.email = text(value, column) ?? "";
        else if (field === "password_hash") fields.passwordHash = text(value, column) ?? "";
        else if (field === "email_verified") fields.emailVerified = flag(value, column);
        else if (field === "admin") fields.admin = flag(value, column);
        else if (field === "role") fields.admin = isAdminRole(value);
        else if (field === "disabled") fields.disabled = flag(value, column);
        else fields.displayName = text(value, column);
      }
      rows.push({ line, ...fields });
    } catch (error) {
      if (!(error instanceof RowError)) throw error;
      rejected.push({ line, reason: error.message });
    }
  }
  return { rows, rejected };
}

/** Where progress goes: standard error, drawn as a bar on a terminal, as a line every few seconds otherwise. */
export type ProgressStream = { isTTY?: boolean; write(text: string): unknown };

/** A progress reporter: a bar with rows per second on a TTY, plain periodic lines elsewhere. */
export function createProgress(stream: ProgressStream, now: () => number = () => performance.now()) {
  let current: string | undefined;
  let last = now();
  let phaseStart = last;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    update({ phase, done, total }: ImportProgress): void {
      const t = now();
      // A phase starts where the previous one ended (or when the reporter was made).
      if (phase !== current) {
        current = phase;
        phaseStart = last;
        lastDraw = Number.NEGATIVE_INFINITY;
      }
      last = t;
      const elapsed = (t - phaseStart) / 1000;
      const rate = elapsed > 0 ? Math.round(done / elapsed) : 0;
      const finished = done >= total;
      if (!finished && t - lastDraw < (stream.isTTY ? 100 : 2000)) return;
      lastDraw = t;
      const counts = `${done}/${total} rows, ${rate} rows/s`;
      if (stream.isTTY) {
        const width = 30;
        const filled = total > 0 ? Math.round((done / total) * width) : width;
        stream.write(`\r\x1b[2K${phase.padEnd(8)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${counts}`);
        drawn = true;
        if (finished) {
          stream.write("\n");
          drawn = false;
        }
      } else stream.write(`${phase}: ${counts}\n`);
    },
    /** Ends a bar left open (an error in the middle). */
    end(): void {
      if (drawn) stream.write("\n");
    },
  };
}

/** Prints the report; returns the exit code (0 when no row was rejected). */
function printReport(out: Output, report: ImportReport, unit: string, dryRun: boolean): number {
  for (const r of report.rejected) out.line(`${unit} ${r.line}: rejected: ${r.reason}`);
  const what = `${report.admins} admin, ${report.verified} verified, ${report.disabled} disabled, ${report.derivedUsernames} username(s) made from the email`;
  if (report.written) out.line(`imported ${report.imported} users (${what})`);
  else if (dryRun) out.line(`dry run, nothing written: ${report.imported} users would be imported (${what})`);
  else if (report.rejected.length > 0)
    out.line(
      `nothing imported: ${report.rejected.length} row(s) rejected; fix them, or pass --skip-rejected to import the other ${report.imported}`,
    );
  else out.line("nothing to import");
  out.line(`${report.unchanged} unchanged (an account with that email exists), ${report.rejected.length} rejected`);
  return report.rejected.length > 0 ? 1 : 0;
}

/** Runs `bulwark users import FILE [options]`; returns the exit code. */
export async function importCommand(
  argv: string[],
  out: Output,
  loadConfig: () => Config | undefined,
  progressStream: ProgressStream = process.stderr,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      help: { type: "boolean", short: "h" },
      preset: { type: "string" },
      map: { type: "string", multiple: true },
      accounts: { type: "string" },
      "dry-run": { type: "boolean" },
      "skip-rejected": { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return out.help(IMPORT_HELP);
  const [file] = positionals;
  if (!file || positionals.length !== 1) {
    out.error("usage: bulwark users import FILE [--preset NAME] [--map COL=FIELD,...] [--dry-run] (see --help)");
    return 2;
  }
  let read: ReadResult;
  let rows: { rows: ImportRow[]; rejected: ImportReject[] };
  let preset: string;
  try {
    const map = parseMap(values.map ?? []);
    read = readImportText(readFileSync(file, "utf8"), file);
    const detected = values.preset ? undefined : detectPreset(read.columns);
    preset = values.preset ?? detected ?? (read.headerless || map.size > 0 ? "csv" : "");
    if (!preset)
      throw new ImportFileError(
        `cannot tell which system the columns (${read.columns.slice(0, 8).join(", ")}) come from: use --preset or --map`,
      );
    if (detected) out.line(`preset ${detected} (recognised from the columns)`);
    const passwords = values.accounts
      ? credentialPasswords(readImportText(readFileSync(values.accounts, "utf8"), values.accounts))
      : undefined;
    if (passwords && preset !== "better-auth") throw new ImportFileError("--accounts goes with --preset better-auth");
    rows = rowsFromRecords(read, preset, map, passwords ? { passwords } : {});
  } catch (error) {
    if (!(error instanceof ImportFileError) && (error as NodeJS.ErrnoException).code === undefined) throw error;
    out.error(`${file}: ${(error as Error).message}`);
    return 1;
  }
  const config = loadConfig();
  if (!config) return 1;
  const dryRun = values["dry-run"] === true;
  const progress = createProgress(progressStream);
  return withServices(config, async ({ accounts }) => {
    try {
      const report = await accounts.importUsers(rows, {
        dryRun,
        skipRejected: values["skip-rejected"] === true,
        source: preset,
        onProgress: (p) => progress.update(p),
      });
      return printReport(out, report, read.unit, dryRun);
    } catch (error) {
      if (!(error instanceof ImportRaceError)) throw error;
      out.error(error.message);
      return 1;
    } finally {
      progress.end();
    }
  });
}
