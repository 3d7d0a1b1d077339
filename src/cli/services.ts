// Commands that act on accounts and sessions build the same services the server runs (never HTTP),
// against the configured database, and close them afterwards.
import { createApp, type Bulwark } from "../app.js";
import { secretValues, type Config } from "../config/load.js";
import { createLogger } from "../core/logger.js";

/** Runs `work` with the services of a fully wired (not listening) app. */
export async function withServices<T>(config: Config, work: (services: Bulwark) => Promise<T>): Promise<T> {
  // A command is short-lived: outbound webhooks are left to the server's worker.
  const app = await createApp(config, { logger: createLogger({ level: "warn", secrets: secretValues(config) }), webhookWorker: false });
  try {
    return await work(app.bulwark);
  } finally {
    await app.close();
  }
}
