// What the subcommand-style commands (audit, keys) share: strict option parsing and usage errors.
import { parseArgs, type ParseArgsConfig } from "node:util";

export type Write = (line: string) => void;

/** A mistake in how the command was called: reported with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Strict parsing: an unknown option or a stray argument is a usage error, never ignored. */
export function parseStrict(args: string[], options: Options): Record<string, string | boolean | undefined> {
  const { values } = parseArgs({
    args,
    options: { ...options, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: false,
  });
  return values as Record<string, string | boolean | undefined>;
}

/** Prints a help text; returns exit code 0. */
export function help(out: Write, text: string): number {
  out(text);
  return 0;
}

/** Reports a usage error (ours or parseArgs') and returns 2; undefined for any other error. */
export function usageExit(error: unknown, command: string, sub: string | undefined, err: Write): number | undefined {
  const code = (error as { code?: unknown }).code;
  if (!(error instanceof UsageError) && !(typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")))
    return undefined;
  err(`${(error as Error).message} (see "bulwark ${command} ${sub && sub !== "help" ? `${sub} ` : ""}--help")`);
  return 2;
}
