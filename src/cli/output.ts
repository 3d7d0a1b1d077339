// Where commands write: injectable so tests capture output instead of printing it.

export type Output = {
  line(text: string): void;
  error(text: string): void;
  /** Prints a help text; returns exit code 0 for convenience. */
  help(text: string): number;
};

/** Standard output and standard error. */
export const consoleOutput: Output = {
  line: (text) => process.stdout.write(`${text}\n`),
  error: (text) => process.stderr.write(`bulwark: ${text}\n`),
  help: (text) => {
    process.stdout.write(`${text}\n`);
    return 0;
  },
};

/** An Output that keeps what was written, for tests. */
export function captureOutput(): Output & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    line: (text) => {
      lines.push(text);
    },
    error: (text) => {
      errors.push(text);
    },
    help: (text) => {
      lines.push(text);
      return 0;
    },
  };
}

/** Prints why the configuration was refused, then (development) the production-only warnings apart from it. */
export function explainConfigError(
  error: {
    problems: readonly { setting: string; message: string }[];
    warnings: readonly { setting: string; message: string }[];
  },
  write: (text: string) => void,
): void {
  for (const problem of error.problems) write(`  ${problem.setting}: ${problem.message}`);
  if (error.warnings.length === 0) return;
  write("not why it stopped, but refused in production (warnings in development):");
  for (const problem of error.warnings) write(`  ${problem.setting}: ${problem.message}`);
}
