// Started through npm (`npm start`; `npx bulwark start` has the same shape: npm, then `sh -c`, then
// the server), a SIGTERM sent to npm alone (a supervisor, `kill`) or a Ctrl-C (SIGINT to the whole
// process group, as a terminal sends it) must stop the server: no orphaned process holding the port
// and the embedded database's lock. Real processes, the built dist/main.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { processAlive } from "../src/core/process.js";
import { testSecrets } from "./harness.js";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const built = existsSync(join(ROOT, "dist/main.js"));

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

// A server that exited counts as gone even while it waits, a zombie, for a reaper: an orphan's
// reaper is the init process, which on some machines (CI's among them) never reaps.
const alive = processAlive;

/** Whether something accepts connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
}

/** Polls until `check` holds or `limit` polls have passed (a bound on a hang, not a timing claim). */
async function eventually(check: () => boolean | Promise<boolean>, limit = 600): Promise<boolean> {
  for (let i = 0; i < limit; i++) {
    if (await check()) return true;
    await sleep(100);
  }
  return false;
}

for (const [signal, group] of [
  ["SIGTERM", false],
  ["SIGINT", true],
] as const) {
  test(
    `npm start, then ${signal} to ${group ? "the process group (Ctrl-C)" : "npm only"}: the server stops and frees its port`,
    { skip: built ? false : "dist/ is not built (npm install builds it)" },
    async () => {
      const port = await freePort();
      const dataDir = mkdtempSync(join(tmpdir(), "bulwark-npm-signal-"));
      const npm = spawn("npm", ["start", "--silent"], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          ...testSecrets(),
          HOST: "127.0.0.1",
          PORT: String(port),
          DATA_DIR: dataDir,
          LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "pipe", "pipe"],
        // Its own process group, as a terminal gives a foreground command.
        detached: true,
      });
      let output = "";
      npm.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      npm.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const npmExited = new Promise<void>((done) => npm.once("exit", () => done()));
      let server: number | undefined;
      try {
        assert.ok(
          await eventually(() => npm.exitCode === null && listening(port)),
          `the server listens through npm: ${output}`,
        );
        // The embedded database's lock file holds the server's own pid (npm's child's child).
        server = Number(readFileSync(join(dataDir, "bulwark.lock"), "utf8"));
        assert.ok(server > 0 && server !== npm.pid && alive(server), "the server runs under npm");

        if (group) process.kill(-npm.pid!, signal);
        else npm.kill(signal);
        await npmExited;
        assert.ok(await eventually(() => !alive(server!)), `the server process is gone after ${signal} to npm`);
        assert.equal(await listening(port), false, "the port is free");
      } finally {
        if (npm.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, "SIGKILL");
        if (server && alive(server)) process.kill(server, "SIGKILL");
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  );
}
