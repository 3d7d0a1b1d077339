// What `bulwark start` does once it listens: opens the local admin channel (embedded database), makes
// the first admin's setup link when no admin exists, and tells a newcomer what to do next. In
// development that is a short text on the terminal; in production one structured log line, and
// only when there is something to do (no admin yet).
import { relative } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/types.js";
import type { Logger } from "../core/logger.js";
import { openAdminChannel } from "./admin-channel.js";
import type { Output } from "./output.js";

/** A path as a newcomer would type it: relative to the working directory when inside it. */
const shown = (path: string) => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") ? `./${rel}` : path;
};

/** The newcomer's notice (development): where things are and how to make the first admin. */
export function firstStartText(
  config: Config,
  setup: { link: string; expiresAt: Date } | undefined,
  embedded: boolean,
): string {
  const docs = config.apiDocs.docs ? ` (API reference: ${config.publicUrl}/docs)` : "";
  const lines = [`Bulwark is running at ${config.publicUrl}${docs}`];
  if (config.devSecrets.length > 0)
    lines.push(
      `  development secrets: ${shown(`${config.dataDir}/secrets.json`)} (for production: bulwark secrets generate)`,
    );
  if (!config.mail.smtpUrl)
    lines.push(
      `  mail outbox:         ${shown(`${config.dataDir}/outbox`)} (newest mail and its links: bulwark mail latest)`,
    );
  if (embedded) lines.push(`  database:            ${shown(`${config.dataDir}/pglite`)} (embedded PGlite)`);
  if (setup) {
    const minutes = Math.round((setup.expiresAt.getTime() - Date.now()) / 60_000);
    lines.push(
      `  first admin:         open ${setup.link}`,
      `                       (works once, for ${minutes} minutes; a restart prints a new link), or register`,
      `                       and run: bulwark users promote NAME (works while the server runs)`,
    );
  }
  return lines.join("\n");
}

/** Runs after `listen`; returns what to close on shutdown (before the app). */
export async function afterListen(
  config: Config,
  app: FastifyInstance,
  logger: Logger,
  out: Output,
): Promise<() => Promise<void>> {
  const channel = await openAdminChannel(config, app, logger);
  const setup = await app.bulwark.accounts.openSetup();
  if (!config.production) {
    out.line(firstStartText(config, setup, channel !== undefined));
  } else if (setup) {
    // The operator reads the log in production: one line, with the link, once.
    logger.info(
      { setup_link: setup.link, expires_at: setup.expiresAt.toISOString() },
      "no admin yet: open the setup link (once, before it expires) to create the first admin, or run bulwark users promote NAME",
    );
  }
  return async () => {
    await channel?.close();
  };
}
