// Threat: a login flood's password hashing takes the core from the thread that serves everyone
// else, so signed-in users wait behind an attacker's Argon2 work.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { HELPER_NICE } from "../threads.js";
import { createPasswordHasher } from "./password.js";

/** The nice value of each of this process's threads, by thread id (Linux's /proc). */
function niceOfThreads(): Map<number, number> {
  const nice = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    } catch {
      continue; // ended meanwhile
    }
    // After "pid (comm) ": state is field 3 and nice field 19, so index 16 of what follows the state.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    nice.set(Number(tid), Number(fields[16]));
  }
  return nice;
}

test(
  "once the process hashes, every thread but the event loop's runs at the lowest priority",
  { skip: process.platform !== "linux" && "Linux only" },
  async () => {
    const main = niceOfThreads().get(process.pid)!;
    const hasher = createPasswordHasher({ maxConcurrent: 1 });
    const stored = await hasher.hash("correct horse battery staple");
    assert.equal(await hasher.verify(stored, "correct horse battery staple"), true);
    assert.equal(await hasher.verifyDummy("anything"), false);

    const threads = niceOfThreads();
    assert.equal(threads.get(process.pid), main, "the event loop keeps its priority");
    const others = [...threads].filter(([tid]) => tid !== process.pid);
    assert.ok(others.length >= 4, "libuv's pool and V8's helpers are there");
    assert.deepEqual(
      others.filter(([, nice]) => nice !== HELPER_NICE),
      [],
      `every other thread at nice ${HELPER_NICE}`,
    );
  },
);
