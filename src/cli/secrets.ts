// `bulwark secrets generate`: prints fresh values for every secret setting.
import { parseArgs } from "node:util";
import { generateSecrets } from "../config/dev-secrets.js";
import type { Output } from "./output.js";

const HELP = `Usage: bulwark secrets generate [--json]

Prints fresh SECRET_KEY, ENCRYPTION_KEYS and METRICS_TOKEN values (from the operating system's
CSPRNG) as .env lines, or as JSON with --json. Nothing is written to disk.`;

/** Runs `bulwark secrets <sub>`; returns the exit code. */
export async function secretsCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") return out.help(HELP);
  if (sub !== "generate") {
    out.error(`unknown subcommand "secrets ${sub}"; try: bulwark secrets generate`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) return out.help(HELP);
  const secrets = generateSecrets();
  if (values.json) out.line(JSON.stringify(secrets));
  else for (const [name, value] of Object.entries(secrets)) out.line(`${name}=${value}`);
  return 0;
}
