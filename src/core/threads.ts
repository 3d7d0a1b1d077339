// The event loop first. Password hashing (Argon2 and bcrypt on libuv's thread pool), image
// re-encoding (libvips' threads) and V8's helpers run on threads beside the one that serves
// requests. Where one of them shares a core with it, the scheduler gives them equal turns, and
// under a login flood every signed-in user's request waits behind an attacker's Argon2 work: the
// p99 of GET /api/users/me went from 3 ms alone to 33 ms under 8 flooding connections on one core,
// and to 11 ms with the other threads lowered (bench/results/2026-11-30-flood-priority.md). On Linux
// a thread's nice value is its own, so lowering every thread but the main one leaves the event loop
// ahead; elsewhere this does nothing.
import { readdirSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/** How far below the main thread the others run: a weight of 110 against 1024 under contention. */
export const HELPER_NICE_OFFSET = 10;

let supported = process.platform === "linux";

/**
 * Lowers the priority of every thread of this process but the main one (the event loop): threads
 * started since the last call too. A thread already low enough is left alone; none is raised.
 */
export function lowerHelperThreads(): void {
  if (!supported) return;
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    supported = false;
    return;
  }
  const target = Math.min(19, getPriority(process.pid) + HELPER_NICE_OFFSET);
  for (const name of tids) {
    const tid = Number(name);
    if (tid === process.pid) continue;
    try {
      if (getPriority(tid) < target) setPriority(tid, target);
    } catch {
      // The thread ended meanwhile, or the system refuses: it keeps its priority.
    }
  }
}
