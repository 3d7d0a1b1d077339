// Threat: a login flood's password hashing takes the core from the thread that serves everyone
// else, so signed-in users wait behind an attacker's Argon2 work.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { HASH_THREAD_NICE } from "./hash-threads.js";
import { createPasswordHasher } from "./password.js";

/** The nice value of each of this process's threads, by thread id (Linux's /proc). */
function niceOfThreads(): Map<number, number> {
  const nice = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    // After "pid (comm) ": state is field 3 and nice field 19, so index 16 of what follows the state.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    nice.set(Number(tid), Number(fields[16]));
  }
  return nice;
}

test(
  "hashes and verifications run on threads below the event loop's priority",
  { skip: process.platform !== "linux" && "Linux only" },
  async () => {
    const hasher = createPasswordHasher({ maxConcurrent: 1 });
    const stored = await hasher.hash("correct horse battery staple");
    assert.equal(await hasher.verify(stored, "correct horse battery staple"), true);
    assert.equal(await hasher.verify(stored, "wrong"), false);
    assert.equal(await hasher.verifyDummy("anything"), false);

    const threads = niceOfThreads();
    assert.equal(threads.get(process.pid), 0, "the event loop keeps its priority");
    const lowered = [...threads.values()].filter((n) => n === HASH_THREAD_NICE);
    assert.equal(lowered.length, 1, "one hashing thread (maxConcurrent 1), at the lower priority");
    assert.ok(HASH_THREAD_NICE >= 10);
    // Nothing else in the process was lowered: only the hashing threads give way.
    assert.ok([...threads.values()].every((n) => n === 0 || n === HASH_THREAD_NICE));
  },
);
