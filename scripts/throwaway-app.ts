// The app the generators read: built on throwaway settings (fresh secrets, an in-memory database, a
// temporary DATA_DIR, a fixed clock), handed to `read` once ready, then closed and removed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { createFakeClock } from "../src/core/clock.js";
import { generateKeyringEntry, randomToken } from "../src/core/crypto/index.js";
import { openStore } from "../src/store/db.js";

/** Runs `read` against a ready app on default settings, and cleans up whatever happens. */
export async function withThrowawayApp<T>(read: (app: FastifyInstance) => T | Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-generate-"));
  const store = await openStore({});
  try {
    const config = loadConfig(
      {
        DATA_DIR: dataDir,
        LOG_LEVEL: "silent",
        SECRET_KEY: randomToken(32),
        ENCRYPTION_KEYS: generateKeyringEntry("d1"),
        METRICS_TOKEN: randomToken(32),
      },
      { generateDevSecrets: false },
    );
    const app = await createApp(config, { store, clock: createFakeClock(0) });
    try {
      await app.ready();
      return await read(app);
    } finally {
      await app.close();
    }
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
