// `bulwark messages import FILE`: messages exported from a Fernet-encrypting backend, re-sealed
// under the keyring. The Fernet keys come from the environment (FERNET_KEYS) or a file, never from
// the command line, where they would land in the shell history and the process list.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { help, UsageError, usageExit, type Write } from "./common.js";
import { FernetError, parseFernetKeys } from "../core/crypto/fernet.js";
import { AppError } from "../core/errors.js";
import { importFernetMessages, parseExport } from "../modules/messages/import.js";
import { withConfiguredServices } from "./services.js";

const HELP = `Usage: bulwark messages import FILE [--keys-file PATH] [--dry-run]

Imports messages exported from a backend that encrypted them with Fernet (Python cryptography's
Fernet or MultiFernet, its ENCRYPTION_KEY). Each token's HMAC is verified, the body decrypted and
sealed again under ENCRYPTION_KEYS; authors and times are kept.

  FILE             a JSON array of messages (or {"messages": [...]}) or a CSV with a header line;
                   fields: sender (username), token (the Fernet ciphertext; also "content"),
                   conversation (a room name) or recipient (username: a direct conversation),
                   created_at (ISO 8601 or Unix seconds; default: the token's own time), id (for reports)
  --keys-file PATH a file holding the Fernet keys, comma or newline separated, newest first
                   (MultiFernet order); otherwise the FERNET_KEYS environment variable
  --dry-run        verify and decrypt everything, report, write nothing

Users must exist first (bulwark users import keeps their usernames). Rejected rows are listed with
their reason; the exit code is 1 when any row was rejected.`;

/** Runs `bulwark messages …`; returns the exit code. */
export async function messagesCommand(
  argv: string[],
  out: Write = console.log,
  err: Write = (line) => process.stderr.write(`bulwark: ${line}\n`),
): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") return help(out, HELP);
    if (sub !== "import") throw new UsageError(`unknown messages subcommand "${sub}"`);
    const { values, positionals } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: true,
      options: {
        "keys-file": { type: "string" },
        "dry-run": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) return help(out, HELP);
    const file = positionals[0];
    if (!file || positionals.length !== 1) throw new UsageError("give one export FILE");
    const keyText =
      typeof values["keys-file"] === "string"
        ? readFileSync(values["keys-file"], "utf8").replace(/\s+/g, ",")
        : process.env.FERNET_KEYS;
    if (!keyText) throw new UsageError("no Fernet keys: set FERNET_KEYS or pass --keys-file");
    const keys = parseFernetKeys(keyText);
    const rows = parseExport(readFileSync(file, "utf8"));
    return await withConfiguredServices(err, async ({ db, audit, messages, accounts }) => {
      const report = await importFernetMessages({ db, audit, messages, accounts }, rows, keys, {
        dryRun: values["dry-run"] === true,
        onProgress: (done, total) => err(`checked ${done} of ${total} rows`),
      });
      for (const r of report.rejects) out(`rejected row ${r.row}${r.id ? ` (id ${r.id})` : ""}: ${r.reason}`);
      out(
        `${values["dry-run"] ? "would import" : "imported"} ${report.imported} of ${report.read} messages into ${report.conversations} conversations; ${report.rejects.length} rejected`,
      );
      return report.rejects.length > 0 ? 1 : 0;
    });
  } catch (error) {
    const usage = usageExit(error, "messages", sub, err);
    if (usage !== undefined) return usage;
    if (error instanceof SyntaxError) {
      err("the export is not valid JSON");
      return 1;
    }
    if (error instanceof FernetError || error instanceof AppError) {
      err(error.message);
      return 1;
    }
    throw error;
  }
}
