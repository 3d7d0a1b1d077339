// The event loop first. Password hashing (Argon2 and bcrypt on libuv's thread pool), image
// re-encoding (libvips' threads) and V8's helpers run on threads beside the one that serves
// requests. Where one of them shares a core with it, the scheduler gives them equal turns, and
// under a login flood every signed-in user's request waits behind an attacker's Argon2 work: the
// p99 of GET /api/users/me went from 3 ms alone to 33 ms under 8 flooding connections on one core,
// to 11 ms with the other threads 10 nice levels lower, and to 7-9 ms at the lowest priority
// (bench/results/2026-11-30-flood-priority.md, 2026-12-01.md). On Linux a thread's nice value
// is its own, so lowering every thread but the main one leaves the event loop ahead; elsewhere this
// does nothing. The lowest level only while the flood lasts: the password hasher lowers them to
// nice 19 while checks queue, and to nice 10 otherwise (core/crypto/password.ts).
import { readdirSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/** The nice value of every thread but the main one during a login flood: the lowest, a weight of 15 against nice 0's 1024. */
export const HELPER_NICE = 19;
/**
 * Their nice value otherwise, from the first password check on: a weight of 110. V8's compiler
 * and garbage-collector threads still get their work done on a busy core (held at nice 19 they
 * starved behind a saturated event loop: GET /api/users/me ran at 0.18-0.20 of bare Fastify's
 * throughput against 0.33-0.49 at nice 10, bench/results/2026-12-01-second.md), and the event loop
 * still goes first when a request arrives.
 */
export const HELPER_EASE_NICE = 10;

/** A pass reads /proc (about 0.1 ms): under a login flood once a second is enough. */
const PASS_INTERVAL_MS = 1000;

let supported = process.platform === "linux";
let lastPass = -Infinity;
/** The nice value the last pass set, undefined before the first. */
let level: number | undefined;
/** False once the system refused to raise a thread (no CAP_SYS_NICE, RLIMIT_NICE too low). */
let mayRaise = true;

/** Sets every thread but the main one to `nice`, skipping those already there; false when the system refused one. */
function setHelpers(nice: number): boolean {
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    supported = false;
    return true;
  }
  let allowed = true;
  for (const name of tids) {
    const tid = Number(name);
    if (tid === process.pid) continue;
    try {
      if (getPriority(tid) !== nice) setPriority(tid, nice);
    } catch (error) {
      // The thread ended meanwhile (ESRCH), or the system refuses (EACCES): it keeps its priority.
      if ((error as { info?: { code?: string } }).info?.code === "EACCES") allowed = false;
    }
  }
  return allowed;
}

/** One pass to `nice` (threads started since the last pass too), at most once a second at the same level. */
function pass(nice: number): void {
  if (!supported) return;
  if (level !== undefined && nice < level && !mayRaise) return;
  const now = performance.now();
  if (nice === level && now - lastPass < PASS_INTERVAL_MS) return;
  lastPass = now;
  // Lowering is always allowed; only a raise can be refused.
  const allowed = setHelpers(nice);
  if (!supported) return; // no /proc here: nothing was set
  if (allowed) level = nice;
  else mayRaise = false;
}

/** Every thread but the event loop's to the lowest priority: while password checks queue (a login flood). */
export function lowerHelperThreads(): void {
  pass(HELPER_NICE);
}

/**
 * Every thread but the event loop's to HELPER_EASE_NICE: after a password check with none waiting,
 * and after a flood once the hasher has been calm. Raising them back from a flood's nice 19 needs
 * root, CAP_SYS_NICE or an RLIMIT_NICE that allows it (systemd's LimitNICE=+10, Docker's --ulimit
 * nice=10): without, the first refusal ends the attempts and they stay at 19 for the life of the
 * process, which costs throughput, not safety.
 */
export function easeHelperThreads(): void {
  pass(HELPER_EASE_NICE);
}

/** The nice value the helpers were last set to, undefined before the first password check (tests, diagnostics). */
export function helperNice(): number | undefined {
  return level;
}
