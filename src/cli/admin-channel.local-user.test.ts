// Attacks on the local admin channel: another local user connects to the server's socket to run operator commands; a socket left by a killed server blocks the next start.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bulwark, freePort, startServer } from "../../test/cli-process.js";
import { channelPath } from "./admin-client.js";

/**
 * A Node binary that `uid` may run: this one, or the system's. CI's second pass runs a Node from a
 * private temporary directory that no other user can enter.
 */
function nodeFor(uid: number): string | undefined {
  return [process.execPath, "/usr/bin/node"].find(
    (binary) => spawnSync(binary, ["-e", "0"], { uid, gid: uid, stdio: "ignore" }).status === 0,
  );
}

/** Tries to connect to `path` as another user; resolves with "connected" or the error code. */
function connectAs(node: string, uid: number, path: string): Promise<string> {
  const script = `require("node:net").connect(${JSON.stringify(path)}).on("connect", function () { console.log("connected"); this.end(); }).on("error", (e) => console.log(e.code));`;
  return new Promise((resolve) => {
    const child = spawn(node, ["-e", script], { uid, gid: uid, stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.on("error", (error: NodeJS.ErrnoException) => resolve(`spawn failed: ${error.code}`));
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("exit", () => resolve(out.trim()));
  });
}

test(
  "the admin socket is the server user's alone, and a killed server's socket does not block the next start",
  { timeout: 900_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "bw-sock-"));
    const env = { PORT: String(await freePort()), DATA_DIR: join(dir, "data") };
    const socket = channelPath(env.DATA_DIR);
    const first = await startServer(env, dir);
    try {
      const stat = statSync(socket);
      assert.ok(stat.isSocket());
      assert.equal(stat.mode & 0o777, 0o600, "readable and writable by the server's user only");
      assert.equal(stat.uid, process.getuid!());
      if (process.getuid!() === 0) {
        // Open the directories to everyone, so that only the socket's own mode stands in the way.
        chmodSync(dir, 0o755);
        chmodSync(env.DATA_DIR, 0o755);
        const node = nodeFor(65534);
        if (node) assert.equal(await connectAs(node, 65534, socket), "EACCES", "another user cannot connect");
        else t.diagnostic("no Node binary that uid 65534 may run: the other-user connection was not tried");
      }
    } finally {
      first.child.kill("SIGKILL");
      await first.exited;
    }
    assert.ok(existsSync(socket), "a killed server leaves its socket behind");

    const second = await startServer(env, dir);
    try {
      assert.match(second.output(), /Bulwark is running at/, second.output());
      const verify = await bulwark(["audit", "verify"], env, dir);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(verify.stdout, /^ok: /);
    } finally {
      second.child.kill("SIGTERM");
      assert.equal(await second.exited, 0);
    }
    assert.equal(existsSync(socket), false, "a stopped server removes its socket");
  },
);
