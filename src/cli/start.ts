// `bulwark start`: checks the configuration, applies pending migrations under a lock, then serves
// until SIGTERM/SIGINT, when it stops accepting, finishes in-flight requests and closes pools.
import { parseArgs } from "node:util";
import { createApp } from "../app.js";
import { secretValues, type Config } from "../config/load.js";
import { createLogger, type Logger } from "../core/logger.js";
import { startupMark, startupPhases } from "../core/startup.js";
import { afterListen } from "./first-start.js";
import type { Output } from "./output.js";
import { onParentExit, startedByNpm } from "./parent.js";

const HELP = `Usage: bulwark start

Serves the Bulwark HTTP API on HOST:PORT (default 127.0.0.1:8080). With no configuration it runs on
the embedded defaults: PGlite under DATA_DIR, in-memory counters, development secrets generated
into DATA_DIR/secrets.json. With NODE_ENV=production it refuses to start on a weak or missing
secret, a wildcard CORS origin or an http PUBLIC_URL, and says how to fix each.
Stops gracefully on SIGTERM or SIGINT. Settings: docs/configuration.md.`;

/** How long in-flight requests get after SIGTERM before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Logs the start-up notices: development secrets in use, and each configuration warning. */
export function logConfigNotices(config: Config, logger: Logger): void {
  if (config.devSecrets.length > 0) {
    logger.warn(
      `development secrets in use (${config.devSecrets.join(", ")} from ${config.dataDir}/secrets.json); set them for production: bulwark secrets generate`,
    );
  }
  for (const problem of config.warnings)
    logger.warn(`config: ${problem.setting} ${problem.message} (refused in production)`);
}

/** Runs `bulwark start`; resolves with the exit code once the server has stopped. */
export async function startCommand(argv: string[], out: Output, config: Config): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) return out.help(HELP);
  // Read now: a SIGTERM to npm while the server starts re-parents it before it listens.
  const parent = process.ppid;
  const logger = createLogger({ level: config.logLevel, secrets: secretValues(config) });
  logConfigNotices(config, logger);
  const app = await createApp(config, { logger });
  await app.listen({ host: config.host, port: config.port });
  startupMark("listen");
  logger.info(
    {
      url: config.publicUrl,
      database: app.bulwark.store.kind,
      counters: app.bulwark.counters.kind,
      startup: startupPhases(),
    },
    "bulwark listening",
  );
  const closeAdminChannel = await afterListen(config, app, logger, out);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      void closeAdminChannel();
      logger.info({ signal }, "shutting down: finishing in-flight requests");
      const force = setTimeout(() => {
        logger.error("shutdown grace period over; closing the connections still open");
        app.server.closeAllConnections();
        resolve(1);
      }, SHUTDOWN_GRACE_MS);
      force.unref();
      app.close().then(
        () => {
          clearTimeout(force);
          logger.info("stopped");
          resolve(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, "error during shutdown");
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    if (startedByNpm()) onParentExit(() => stop("parent exited"), parent);
  });
}
