// `bulwark migrate`: applies pending SQL migrations under the migration lock, then exits.
import { parseArgs } from "node:util";
import type { Config } from "../config/types.js";
import { openStore } from "../store/db.js";
import { migrate } from "../store/migrate.js";
import type { Output } from "./output.js";

const HELP = `Usage: bulwark migrate

Applies pending database migrations (DATABASE_URL, or PGlite under DATA_DIR) and exits. Safe to run
from several instances at once: a PostgreSQL advisory lock lets one apply while the others wait.`;

/** Runs `bulwark migrate`; returns the exit code. */
export async function migrateCommand(argv: string[], out: Output, config: Config): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) return out.help(HELP);
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrate(store);
    out.line(`migrations applied (${store.kind})`);
    return 0;
  } finally {
    await store.close();
  }
}
