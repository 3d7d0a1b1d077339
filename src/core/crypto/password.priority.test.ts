// Threat: a login flood's password hashing takes the core from the thread that serves everyone
// else, so signed-in users wait behind an attacker's Argon2 work. And the cure must not outlast
// the flood: V8's own helper threads are lowered too, and a core runs requests slower then.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { easeHelperThreads, HELPER_EASE_NICE, HELPER_NICE, helperNice } from "../threads.js";
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

const linuxOnly = { skip: process.platform !== "linux" && "Linux only" };

/** The threads other than the event loop's whose nice value is not `nice`. */
const othersNotAt = (nice: number) =>
  [...niceOfThreads()].filter(([tid, value]) => tid !== process.pid && value !== nice);

const PASSWORD = "correct horse battery staple";

/** A hasher that checks one password at a time, and a stored hash of PASSWORD. */
async function oneSlotHasher() {
  const hasher = createPasswordHasher({ maxConcurrent: 1 });
  return { hasher, stored: await hasher.hash(PASSWORD) };
}

// The tests share this process's threads: they run in order, each from where the one before left them.
test(
  "a login at a time puts every other thread a little below the event loop, not at the flood's lowest (V8's helpers keep up)",
  linuxOnly,
  async () => {
    const main = niceOfThreads().get(process.pid)!;
    const { hasher, stored } = await oneSlotHasher();
    assert.equal(await hasher.verify(stored, PASSWORD), true);
    assert.equal(await hasher.verifyDummy("anything"), false);
    assert.equal(helperNice(), HELPER_EASE_NICE);
    assert.equal(niceOfThreads().get(process.pid), main, "the event loop keeps its priority");
    assert.deepEqual(othersNotAt(HELPER_EASE_NICE), [], `every other thread at nice ${HELPER_EASE_NICE}`);
  },
);

test(
  "while password checks queue (a login flood), every thread but the event loop's runs at the lowest priority",
  linuxOnly,
  async () => {
    const main = niceOfThreads().get(process.pid)!;
    const { hasher, stored } = await oneSlotHasher();
    // Four at once through one slot: three wait, as a flood's checks do.
    const results = await Promise.all([
      hasher.verify(stored, "wrong one"),
      hasher.verify(stored, "wrong two"),
      hasher.verifyDummy("anything"),
      hasher.verify(stored, PASSWORD),
    ]);
    assert.deepEqual(results, [false, false, false, true]);

    const threads = niceOfThreads();
    assert.equal(threads.get(process.pid), main, "the event loop keeps its priority");
    const others = [...threads].filter(([tid]) => tid !== process.pid);
    assert.ok(others.length >= 4, "libuv's pool and V8's helpers are there");
    assert.deepEqual(othersNotAt(HELPER_NICE), [], `every other thread at nice ${HELPER_NICE}`);
    // A single check right after does not end the flood's level: only a calm spell does.
    await hasher.verifyDummy("one more");
    assert.equal(helperNice(), HELPER_NICE);
  },
);

test(
  "after the flood the helpers come back up to the calm level",
  {
    skip:
      process.platform !== "linux" ? "Linux only" : process.getuid?.() !== 0 && "raising a priority needs root here",
  },
  () => {
    assert.equal(helperNice(), HELPER_NICE, "the test before left them at the flood's level");
    easeHelperThreads(); // what the hasher's calm timer calls
    assert.equal(helperNice(), HELPER_EASE_NICE);
    assert.deepEqual(othersNotAt(HELPER_EASE_NICE), [], `every other thread at nice ${HELPER_EASE_NICE} again`);
  },
);
