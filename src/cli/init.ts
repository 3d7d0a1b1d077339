// `bulwark init`: writes a .env with fresh secrets (mode 0600) and keeps it out of git.
import { appendFileSync, chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { generateSecrets } from "../config/dev-secrets.js";
import type { Output } from "./output.js";

const HELP = `Usage: bulwark init [--force]

Writes .env in the current directory with freshly generated SECRET_KEY, ENCRYPTION_KEYS and
METRICS_TOKEN (file mode 0600) and adds .env to .gitignore. Never overwrites an existing .env
unless --force is given.`;

/** Runs `bulwark init`; returns the exit code. */
export async function initCommand(argv: string[], out: Output, cwd = process.cwd()): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { force: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) return out.help(HELP);
  const envFile = resolve(cwd, ".env");
  if (existsSync(envFile) && !values.force) {
    out.error(
      ".env already exists; use --force to replace it (its secrets would change, invalidating tokens and encrypted data)",
    );
    return 1;
  }
  const secrets = generateSecrets();
  const body = [
    "# Bulwark settings. Secrets: never commit this file. See docs/configuration.md.",
    "NODE_ENV=development",
    ...Object.entries(secrets).map(([name, value]) => `${name}=${value}`),
    "",
  ].join("\n");
  writeFileSync(envFile, body, { mode: 0o600 });
  chmodSync(envFile, 0o600);
  const gitignore = resolve(cwd, ".gitignore");
  const ignored =
    existsSync(gitignore) &&
    readFileSync(gitignore, "utf8")
      .split(/\r?\n/)
      .some((line) => line.trim() === ".env" || line.trim() === "/.env");
  if (!ignored)
    appendFileSync(
      gitignore,
      `${existsSync(gitignore) && !readFileSync(gitignore, "utf8").endsWith("\n") ? "\n" : ""}.env\n`,
    );
  out.line(`wrote ${envFile} (mode 0600) with fresh SECRET_KEY, ENCRYPTION_KEYS and METRICS_TOKEN`);
  if (!ignored) out.line("added .env to .gitignore");
  return 0;
}
