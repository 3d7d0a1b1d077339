// A server that died but was never reaped (a zombie, where the init process does not reap) must not
// be taken for a live one: its data directory would be "in use" for ever and no server could start.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { openStore } from "../store/db.js";
import { pgliteTemplate } from "../../test/harness.js";
import { processAlive } from "./process.js";

const linux = process.platform === "linux";

/** A process that has exited under a parent that never reaps it; returns both. */
async function zombie(): Promise<{ pid: number; parent: ReturnType<typeof spawn> }> {
  // The shell starts a child that waits for a byte on fd 3, then becomes `sleep`, which never
  // waits for anyone. Only once it is `sleep` does the child get its byte and exit.
  const parent = spawn("sh", ["-c", "head -c1 <&3 >/dev/null & echo $!; exec sleep 120"], {
    stdio: ["ignore", "pipe", "ignore", "pipe"],
  });
  try {
    return { pid: await zombieOf(parent), parent };
  } catch (error) {
    parent.kill("SIGKILL");
    throw error;
  }
}

async function zombieOf(parent: ReturnType<typeof spawn>): Promise<number> {
  const pid = await new Promise<number>((done) => parent.stdout!.once("data", (chunk) => done(Number(String(chunk)))));
  const comm = () => readFileSync(`/proc/${parent.pid}/comm`, "utf8").trim();
  for (let i = 0; i < 500 && comm() !== "sleep"; i++) await sleep(10);
  assert.equal(comm(), "sleep", "the shell became sleep");
  (parent.stdio[3] as NodeJS.WritableStream).write("x");
  const state = () => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]![0];
  for (let i = 0; i < 500 && state() !== "Z"; i++) await sleep(10);
  assert.equal(state(), "Z", "the child is a zombie");
  return pid;
}

test("a zombie is not a live process, though kill(pid, 0) reaches it", { skip: !linux && "Linux only" }, async () => {
  const { pid, parent } = await zombie();
  try {
    assert.doesNotThrow(() => process.kill(pid, 0), "a signal check alone takes the zombie for alive");
    assert.equal(processAlive(pid), false);
    assert.equal(processAlive(parent.pid!), true, "its running parent is alive");
    assert.equal(processAlive(process.pid), true);
    assert.equal(processAlive(0), false);
    assert.equal(processAlive(2 ** 22 + 1), false, "beyond any pid");
  } finally {
    parent.kill("SIGKILL");
  }
});

test(
  "a data directory locked by a dead, unreaped server opens; one locked by a live process does not",
  { skip: !linux && "Linux only" },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bulwark-zombie-lock-"));
    const { pid, parent } = await zombie();
    try {
      const template = await pgliteTemplate(false);
      writeFileSync(join(dataDir, "bulwark.lock"), String(parent.pid));
      await assert.rejects(openStore({ dataDir, template }), /in use by process/);

      writeFileSync(join(dataDir, "bulwark.lock"), String(pid));
      const store = await openStore({ dataDir, template });
      try {
        assert.equal(
          readFileSync(join(dataDir, "bulwark.lock"), "utf8"),
          String(process.pid),
          "the lock is taken over",
        );
      } finally {
        await store.close();
      }
    } finally {
      parent.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
