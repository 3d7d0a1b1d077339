// The event loop first. Password hashing (Argon2 and bcrypt on libuv's thread pool), image
// re-encoding (libvips' threads) and V8's helpers run on threads beside the one that serves
// requests. Where one of them shares a core with it, the scheduler gives them equal turns, and
// under a login flood every signed-in user's request waits behind an attacker's Argon2 work: the
// p99 of GET /api/users/me went from 3 ms alone to 33 ms under 8 flooding connections on one core,
// to 11 ms with the other threads 10 nice levels lower, and to 7-9 ms at the lowest priority
// (bench/results/2026-11-30-flood-priority.md, 2026-12-01.md). On Linux a thread's nice value
// is its own, so lowering every thread but the main one leaves the event loop ahead; elsewhere this
// does nothing.
import { readdirSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/** The nice value of every thread but the main one: the lowest, a weight of 15 against nice 0's 1024. */
export const HELPER_NICE = 19;

/** A pass reads /proc (about 0.1 ms): under a login flood once a second is enough. */
const PASS_INTERVAL_MS = 1000;

let supported = process.platform === "linux";
let lastPass = -Infinity;

/**
 * Lowers every thread of this process but the main one (the event loop) to the lowest priority:
 * threads started since the last pass too, at most a second later. A thread already that low is
 * left alone.
 */
export function lowerHelperThreads(): void {
  if (!supported) return;
  const now = performance.now();
  if (now - lastPass < PASS_INTERVAL_MS) return;
  lastPass = now;
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    supported = false;
    return;
  }
  for (const name of tids) {
    const tid = Number(name);
    if (tid === process.pid) continue;
    try {
      if (getPriority(tid) < HELPER_NICE) setPriority(tid, HELPER_NICE);
    } catch {
      // The thread ended meanwhile, or the system refuses: it keeps its priority.
    }
  }
}
