#!/usr/bin/env node
// The `bulwark` command: parses the subcommand and hands over to src/cli/.
import { forwardIfServed } from "./cli/admin-client.js";
import { apiKeysCommand } from "./cli/api-keys.js";
import { auditCommand } from "./cli/audit.js";
import { checkCommand } from "./cli/check.js";
import { initCommand } from "./cli/init.js";
import { keysCommand } from "./cli/keys.js";
import { sessionsCommand } from "./cli/sessions.js";
import { usersCommand } from "./cli/users.js";
import { messagesCommand } from "./cli/messages.js";
import { migrateCommand } from "./cli/migrate.js";
import { mailCommand } from "./cli/mail.js";
import { consoleOutput, explainConfigError, type Output } from "./cli/output.js";
import { secretsCommand } from "./cli/secrets.js";
import { startCommand } from "./cli/start.js";
import { ConfigError, loadConfig, type Config } from "./config/load.js";
import { recordStartup, startupMark } from "./core/startup.js";

const HELP = `Usage: bulwark <command> [options]

Commands:
  init                 write .env with fresh secrets (mode 0600), add it to .gitignore
  start                apply pending migrations, then serve the API
  migrate              apply pending database migrations and exit
  check                the deployment checklist (--url URL probes a running instance, --json)
  secrets generate     print fresh values for every secret setting
  audit verify         check the audit log's hash chain (exit 1 if tampered)
  audit query          search the audit log (filters, --json)
  keys rotate-signing  make a new token-signing key active (--revoke KID drops one at once)
  keys rotate-encryption  re-encrypt stored secrets and messages under the first ENCRYPTION_KEYS key
  keys list            list signing keys
  users promote NAME   give a user the admin role
  users demote NAME    take the admin role away (revokes the user's admin-scoped API keys)
  users disable NAME   lock a user out at once: sessions end, login is refused
  users enable NAME    let a disabled user sign in again
  users reset-mfa NAME  turn two-factor off for a user who lost the device and the codes
  users verify-email NAME  mark a user's address as proven (checked out of band)
  users import FILE    import accounts with their hashes (fastapi-users, Supabase, Better Auth, CSV/JSON)
  messages import FILE  import messages from a Fernet-encrypting backend (FERNET_KEYS, --dry-run)
  sessions revoke      end sessions: --all, or --user NAME
  api-keys create      make an API key: --user NAME --name N --scopes a,b [--expires DAYS]
  api-keys revoke ID   revoke an API key at once, on every instance
  api-keys list        list live API keys (--user NAME), never a secret
  mail latest          print the development outbox's newest mail and its links (--to EMAIL)

Run "bulwark <command> --help" for a command's options. Settings: docs/configuration.md.`;

/** Loads the configuration, or prints every problem with its fix and returns undefined. */
function configOrExplain(out: Output): Config | undefined {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    out.error(
      error.warnings.length > 0
        ? "refusing to start: a setting is malformed"
        : "refusing to start: the configuration is not safe",
    );
    explainConfigError(error, (text) => out.error(text));
    return undefined;
  }
}

/** Runs the command line; returns the exit code. */
export async function main(argv: string[], out: Output = consoleOutput): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "start") recordStartup();
  // A server running on the embedded database runs operator commands itself (docs/operations.md).
  const served = await forwardIfServed(argv, out, loadConfig);
  if (served !== undefined) return served;
  const withConfig = async (run: (config: Config) => Promise<number>) => {
    const config = configOrExplain(out);
    startupMark("config");
    return config ? run(config) : 1;
  };
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      return out.help(HELP);
    case "init":
      return initCommand(rest, out);
    case "secrets":
      return secretsCommand(rest, out);
    case "start":
      return withConfig((config) => startCommand(rest, out, config));
    case "migrate":
      return withConfig((config) => migrateCommand(rest, out, config));
    case "check":
      return checkCommand(rest, out);
    case "keys":
      return keysCommand(
        rest,
        (line) => out.line(line),
        (line) => out.error(line),
      );
    case "users":
      return usersCommand(rest, out, () => configOrExplain(out));
    case "messages":
      return messagesCommand(
        rest,
        (line) => out.line(line),
        (line) => out.error(line),
      );
    case "sessions":
      return sessionsCommand(rest, out, () => configOrExplain(out));
    case "api-keys":
      return apiKeysCommand(rest, out, () => configOrExplain(out));
    case "mail":
      return mailCommand(rest, out);
    case "audit":
      return auditCommand(
        rest,
        (line) => out.line(line),
        (line) => out.error(line),
      );
    default:
      out.error(`unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

process.on("unhandledRejection", (reason) => {
  // Last resort: log without the value's contents beyond its message, then let the exit code say it.
  process.stderr.write(
    `bulwark: unhandled rejection: ${reason instanceof Error ? reason.message : "non-error value"}\n`,
  );
  process.exitCode = 1;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A stopped server must not linger on a handle some library left open.
    if (process.argv[2] === "start") setTimeout(() => process.exit(code), 500).unref();
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    // Usage errors from parseArgs are the user's; anything else is ours.
    const usage = (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ?? false;
    consoleOutput.error(usage ? `${message} (see --help)` : `failed: ${message}`);
    process.exitCode = usage ? 2 : 1;
  },
);
