// Password hashing on threads of its own, at a lower scheduling priority than the thread that
// serves requests. On libuv's pool (the bindings' async calls) an Argon2 verification competes
// with the event loop as an equal: under a login flood the scheduler hands the core to the hash at
// every system call the event loop makes, and every signed-in user's request waits behind it
// (bench/results: the p99 of GET /api/users/me went from 3 ms to 33 ms under 8 flooding
// connections on one core, and to 11 ms with the hashing threads at nice 10). A thread's nice
// value is its own on Linux, so only the hashing threads give way; elsewhere the call is a no-op.
//
// One pool per process, shared by every hasher in it (an app, the CLI, tests that start many
// apps): it grows to the largest concurrency asked for, its threads never keep the process alive,
// and a thread that dies is replaced at the next call. Each thread runs one job at a time; the
// hasher's own limiter decides how many run and how many wait.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** How far below the serving thread the hashing threads run: weight 110 against 1024 under contention. */
export const HASH_THREAD_NICE = 10;

export type HashJob =
  | { op: "argon2-hash"; password: string | Uint8Array; options: object }
  | { op: "argon2-verify"; hash: string; password: string }
  | { op: "bcrypt-verify"; hash: string; password: string }
  | { op: "scrypt"; password: string; salt: string; keylen: number; params: Record<string, number> };

// CommonJS run with `eval`, so it needs no file of its own beside the bundle; the bindings are
// loaded by absolute path, resolved from this module.
const SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { setPriority } = require("node:os");
const { scryptSync } = require("node:crypto");
const argon2 = require(workerData.argon2);
const bcrypt = require(workerData.bcrypt);
try { setPriority(workerData.nice); } catch {}
const bytes = (v) => (typeof v === "string" ? v : Buffer.from(v));
function run(job) {
  switch (job.op) {
    case "argon2-hash":
      return argon2.hashSync(bytes(job.password), { ...job.options, salt: Buffer.from(job.options.salt) });
    case "argon2-verify":
      return argon2.verifySync(job.hash, job.password);
    case "bcrypt-verify":
      return bcrypt.verifySync(job.password, job.hash);
    case "scrypt":
      return scryptSync(job.password, job.salt, job.keylen, job.params);
  }
  throw new Error("unknown job " + job.op);
}
parentPort.on("message", ({ id, job }) => {
  try {
    parentPort.postMessage({ id, value: run(job) });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) });
  }
});
`;

type Pending = { resolve(value: unknown): void; reject(error: Error): void };
type Thread = { worker: Worker; pending: Map<number, Pending> };

const threads: Thread[] = [];
let wanted = 1;
let nextId = 0;

function spawnThread(): Thread {
  const require = createRequire(import.meta.url);
  const worker = new Worker(SOURCE, {
    eval: true,
    workerData: {
      argon2: require.resolve("@node-rs/argon2"),
      bcrypt: require.resolve("@node-rs/bcrypt"),
      nice: HASH_THREAD_NICE,
    },
  });
  worker.unref();
  const thread: Thread = { worker, pending: new Map() };
  worker.on("message", ({ id, value, error }: { id: number; value?: unknown; error?: string }) => {
    const job = thread.pending.get(id);
    thread.pending.delete(id);
    // A thread with work keeps the process alive (a CLI command awaiting its hash); an idle one does not.
    if (thread.pending.size === 0) worker.unref();
    if (error === undefined) job?.resolve(value);
    else job?.reject(new Error(error));
  });
  const lost = (error: Error) => {
    const index = threads.indexOf(thread);
    if (index >= 0) threads.splice(index, 1);
    for (const job of thread.pending.values()) job.reject(error);
    thread.pending.clear();
  };
  worker.on("error", lost);
  worker.on("exit", (code) => lost(new Error(`password hashing thread exited (${code})`)));
  return thread;
}

/** Lets the pool grow to `count` threads (it never shrinks). */
export function reserveHashThreads(count: number): void {
  wanted = Math.max(wanted, count);
}

/** Runs a job on the least busy hashing thread, starting one when the pool is below its size. */
export function runHashJob<T>(job: HashJob): Promise<T> {
  let thread = threads.reduce<Thread | undefined>(
    (best, t) => (best === undefined || t.pending.size < best.pending.size ? t : best),
    undefined,
  );
  if (thread === undefined || (thread.pending.size > 0 && threads.length < wanted)) {
    thread = spawnThread();
    threads.push(thread);
  }
  const id = nextId++;
  const { worker, pending } = thread;
  return new Promise<T>((resolve, reject) => {
    if (pending.size === 0) worker.ref();
    pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    worker.postMessage({ id, job });
  });
}
