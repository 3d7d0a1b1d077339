// Password hashing: Argon2id with OWASP parameters on libuv's thread pool, bcrypt and Better Auth's scrypt only to
// verify imported hashes, and a bounded FIFO queue in front of both so a login flood fails fast instead of starving every other request.
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { availableParallelism } from "node:os";
import { hash as argon2Hash, parseOptions as argon2ParseOptions, verify as argon2Verify } from "@node-rs/argon2";
import type { Algorithm, Options as Argon2Options, ParsedHashOptions as Argon2Parsed, Version } from "@node-rs/argon2";
import { verify as bcryptVerify } from "@node-rs/bcrypt";
import { AppError } from "../errors.js";
import { easeHelperThreads, HELPER_NICE, helperNice, lowerHelperThreads } from "../threads.js";

/** The Argon2id cost of every new hash: OWASP's first recommendation (19 MiB, 2 passes, 1 lane). */
export const ARGON2ID_PARAMS = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

// The binding declares these as `const enum`s and exports an empty object for them at run time, so name the values.
const ARGON2D = 0 as Algorithm;
const ARGON2I = 1 as Algorithm;
const ARGON2ID = 2 as Algorithm;
const VERSION_0X13 = 1 as Version;

const SALT_BYTES = 16;
const TAG_BYTES = 32;

// A stored hash is data, and a corrupt or hostile row must not pin a thread for minutes or allocate gigabytes:
// hashes above these costs are treated as malformed (no password matches them).
const MAX_ARGON2_MEMORY_KIB = 1 << 20;
const MAX_ARGON2_TIME_COST = 16;
const MAX_ARGON2_PARALLELISM = 16;
const MIN_BCRYPT_COST = 4;
const MAX_BCRYPT_COST = 16;

const ARGON2_PREFIX = /^\$argon2(?:id|i|d)\$/;
// The three bcrypt labels written by OpenBSD, Python's bcrypt and passlib ($2a$, $2b$) and PHP ($2y$); all the
// same algorithm for UTF-8 input. $2x$ (crypt_blowfish's buggy-algorithm marker) and other spellings are refused.
const BCRYPT_FORMAT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
// Better Auth's default (better-auth/src/crypto/password.ts): `<salt>:<key>`, the salt 16 random bytes written as
// 32 hex characters and used as that hex text, the key scrypt(NFKC(password), salt, N=16384, r=16, p=1, 64 bytes) in
// hex. No label names the scheme, so only this exact shape is taken for it; its cost is fixed, so no hostile row can
// raise it.
const BETTER_AUTH_SCRYPT = /^([0-9a-f]{32}):([0-9a-f]{128})$/;
const BETTER_AUTH_SCRYPT_PARAMS = Object.freeze({ N: 16384, r: 16, p: 1, maxmem: 128 * 16384 * 16 * 2 });

export type PasswordHasherOptions = {
  /** Hash or verify operations running at once; default one less than the cores (at least 1), leaving one libuv thread free. */
  maxConcurrent?: number;
  /** Calls waiting for a slot before new ones are refused; default 64 × maxConcurrent. */
  maxQueue?: number;
};

export type PasswordHasherStats = {
  hashes: number;
  verifications: number;
  inFlight: number;
  queued: number;
  /** Places claimed by `admit` and not yet used or released. */
  admitted: number;
};

/**
 * A place in the hasher claimed by `admit`: the next hash or verification given it runs (or waits its turn)
 * without being refused. `release` gives the place back when no verification follows; it is safe to call
 * after the place was used, and twice.
 */
export type HasherTicket = { release(): void };

/**
 * The Argon2 work actually done: verifications that ran to completion in the native binding, and the
 * sums of the parameters they ran with (KiB of memory, passes, lanes). Counted after the binding
 * returns, so a code path that skips the work (or runs it at a lower cost) shows here.
 */
export type PasswordHasherWork = { argon2Verifications: number; memoryKiB: number; passes: number; lanes: number };

export type PasswordHasher = {
  /** Argon2id PHC string of the password's UTF-8 bytes, with a fresh 16-byte salt. */
  hash(password: string): Promise<string>;
  /**
   * Claims a place for one coming verification, or throws `503 service_unavailable` (Retry-After: 1) at once
   * when every slot and queue place is taken: a login asks before any other work, so a flood it cannot
   * serve costs no database query.
   */
  admit(): HasherTicket;
  /** True when the password matches the stored Argon2, bcrypt or Better Auth scrypt hash; false for a mismatch or any malformed hash. */
  verify(hash: string, password: string, ticket?: HasherTicket): Promise<boolean>;
  /** True when the stored hash is not Argon2id at the current cost or stronger (bcrypt, argon2i/d, weaker params). */
  needsRehash(hash: string): boolean;
  /** One full Argon2id verification that never matches, for a login whose user does not exist. */
  verifyDummy(password: string, ticket?: HasherTicket): Promise<false>;
  /** Counters for tests and metrics. */
  stats(): PasswordHasherStats;
  /** The Argon2 verification work done so far, with its cost: what a test of the dummy verification measures. */
  work(): PasswordHasherWork;
};

/** Creates a password hasher whose hash and verify calls share one concurrency cap and one bounded queue. */
export function createPasswordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const maxConcurrent = options.maxConcurrent ?? defaultConcurrency();
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1)
    throw new RangeError("maxConcurrent must be an integer of at least 1");
  const maxQueue = options.maxQueue ?? 64 * maxConcurrent;
  if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError("maxQueue must be a non-negative integer");

  const slots = createSlots(maxConcurrent, maxQueue);
  const counters = { hashes: 0, verifications: 0 };
  const work: PasswordHasherWork = { argon2Verifications: 0, memoryKiB: 0, passes: 0, lanes: 0 };

  /** argon2Verify, accounted: the cost read from the hash is added once the native verification has returned. */
  async function argon2VerifyAccounted(stored: string, password: string): Promise<boolean> {
    const matched = await argon2Verify(stored, password);
    const parsed = parseArgon2(stored);
    work.argon2Verifications += 1;
    work.memoryKiB += parsed?.memoryCost ?? 0;
    work.passes += parsed?.timeCost ?? 0;
    work.lanes += parsed?.parallelism ?? 0;
    return matched;
  }

  // A hash of 32 random bytes, made once (at the first need, so a start spends nothing on it) with the current
  // parameters: no password can match it, and verifying against it costs exactly what verifying a real user's
  // hash costs. A failed attempt is not kept: the next need tries again.
  let dummyHash: Promise<string> | undefined;

  async function verifyAgainstDummy(password: string): Promise<false> {
    dummyHash ??= argon2Hash(randomBytes(32), argon2Options()).catch((error: unknown) => {
      dummyHash = undefined;
      throw error;
    });
    await argon2VerifyAccounted(await dummyHash, password);
    return false;
  }

  return {
    hash(password) {
      return slots.run(async () => {
        counters.hashes += 1;
        return argon2Hash(password, argon2Options());
      });
    },

    admit() {
      return slots.reserve();
    },

    verify(stored, password, ticket) {
      return slots.run(async () => {
        counters.verifications += 1;
        try {
          switch (schemeOf(stored)) {
            case "argon2":
              return await argon2VerifyAccounted(stored, password);
            case "bcrypt":
              // @node-rs/bcrypt reads $2a$, $2b$ and $2y$ itself; no relabelling is needed.
              return await bcryptVerify(password, stored);
            case "scrypt":
              return await betterAuthScryptVerify(stored, password);
            default:
              // Unknown or malformed (including a placeholder for an account without a password): spend the same
              // time as a real check so the response does not tell such an account apart, then refuse.
              return await verifyAgainstDummy(password);
          }
        } catch {
          // The libraries throw on input they cannot decode; the caller learns only "no match", never why.
          return false;
        }
      }, ticket);
    },

    needsRehash(stored) {
      if (!ARGON2_PREFIX.test(stored)) return true;
      const parsed = parseArgon2(stored);
      if (parsed === undefined) return true;
      return (
        parsed.algorithm !== ARGON2ID ||
        parsed.version !== VERSION_0X13 ||
        parsed.memoryCost < ARGON2ID_PARAMS.memoryCost ||
        parsed.timeCost < ARGON2ID_PARAMS.timeCost ||
        parsed.parallelism < ARGON2ID_PARAMS.parallelism ||
        parsed.saltLen < SALT_BYTES ||
        parsed.outputLen < TAG_BYTES
      );
    },

    verifyDummy(password, ticket) {
      // Hash a dummy so an unknown user takes as long as a known one: without it, "no such user" answers in
      // microseconds and "wrong password" in milliseconds, and the difference enumerates accounts.
      return slots.run(async () => {
        counters.verifications += 1;
        return verifyAgainstDummy(password);
      }, ticket);
    },

    stats() {
      return { ...counters, inFlight: slots.active(), queued: slots.waiting(), admitted: slots.reserved() };
    },

    work() {
      return { ...work };
    },
  };
}

// The native work runs on libuv's thread pool, which fs, dns.lookup and zlib share. More hashes at once than
// cores buys no throughput, and filling every pool thread would stall file reads and database host lookups too.
// One core is left to the event loop: a login flood measured on 2 cores with both hashing raised the p99 of
// every other request 27-fold (bench/results).
function defaultConcurrency(): number {
  const pool = Number.parseInt(process.env["UV_THREADPOOL_SIZE"] ?? "", 10);
  const poolSize = Number.isInteger(pool) && pool > 0 ? pool : 4;
  return Math.max(1, Math.min(availableParallelism() - 1, poolSize - 1));
}

function argon2Options(): Argon2Options {
  return {
    algorithm: ARGON2ID,
    version: VERSION_0X13,
    ...ARGON2ID_PARAMS,
    outputLen: TAG_BYTES,
    salt: randomBytes(SALT_BYTES),
  };
}

function parseArgon2(stored: string): Argon2Parsed | undefined {
  try {
    return argon2ParseOptions(stored);
  } catch {
    return undefined;
  }
}

/** Whether `stored` is a hash this module can verify (Argon2, bcrypt, Better Auth's scrypt), within the cost limits. */
export function isVerifiableHash(stored: string): boolean {
  return schemeOf(stored) !== undefined;
}

/** Verifies a Better Auth scrypt hash: the key derived with its fixed parameters, compared in constant time. */
async function betterAuthScryptVerify(stored: string, password: string): Promise<boolean> {
  const [, salt, key] = BETTER_AUTH_SCRYPT.exec(stored)!;
  const expected = Buffer.from(key!, "hex");
  const derived = await new Promise<Buffer>((resolve, reject) =>
    // Better Auth derives from NFKC(password) and the salt's hex text, not its bytes.
    scrypt(password.normalize("NFKC"), salt!, expected.length, BETTER_AUTH_SCRYPT_PARAMS, (error, out) =>
      error ? reject(error) : resolve(out),
    ),
  );
  return timingSafeEqual(derived, expected);
}

function schemeOf(stored: unknown): "argon2" | "bcrypt" | "scrypt" | undefined {
  if (typeof stored !== "string") return undefined;
  if (ARGON2_PREFIX.test(stored)) {
    const parsed = parseArgon2(stored);
    if (parsed === undefined) return undefined;
    const known = parsed.algorithm === ARGON2ID || parsed.algorithm === ARGON2I || parsed.algorithm === ARGON2D;
    const affordable =
      parsed.memoryCost <= MAX_ARGON2_MEMORY_KIB &&
      parsed.timeCost <= MAX_ARGON2_TIME_COST &&
      parsed.parallelism <= MAX_ARGON2_PARALLELISM;
    return known && affordable ? "argon2" : undefined;
  }
  const bcrypt = BCRYPT_FORMAT.exec(stored);
  if (bcrypt) {
    const cost = Number(bcrypt[1]);
    return cost >= MIN_BCRYPT_COST && cost <= MAX_BCRYPT_COST ? "bcrypt" : undefined;
  }
  if (BETTER_AUTH_SCRYPT.test(stored)) return "scrypt";
  return undefined;
}

/** How long the hasher stays idle after a flood before the helper threads are raised back (core/threads.ts). */
const CALM_MS = 10_000;

/**
 * At most `limit` tasks at once; up to `maxQueue` more wait in FIFO order; beyond that a call is refused at once.
 * Written here because the usual limiter (p-limit) queues without bound, and an unbounded queue under a login
 * flood is what turns slow logins into a dead server. A place can be claimed ahead (`reserve`): claimed places
 * count as taken, so a call holding one is never refused and the total never exceeds `limit + maxQueue`.
 */
function createSlots(limit: number, maxQueue: number) {
  let running = 0;
  /** After a flood: runs easeHelperThreads once the hasher has been idle for CALM_MS. */
  let calm: NodeJS.Timeout | undefined;
  let reserved = 0;
  const queue: Array<() => void> = [];
  const full = () => running + queue.length + reserved >= limit + maxQueue;
  const refusal = () =>
    new AppError("service_unavailable", "too many password checks in progress; retry shortly", {
      headers: { "retry-after": "1" },
    });

  function reserve(): HasherTicket & { take(): boolean } {
    if (full()) throw refusal();
    reserved += 1;
    let held = true;
    /** Gives the place back; true when it was still held. */
    const take = () => {
      if (!held) return false;
      held = false;
      reserved -= 1;
      return true;
    };
    return { take, release: () => void take() };
  }

  async function run<T>(task: () => Promise<T>, ticket?: HasherTicket): Promise<T> {
    // A held ticket turns its claimed place into this call; a used or released one counts for nothing.
    const claimed = ticket !== undefined && (ticket as ReturnType<typeof reserve>).take();
    if (!claimed && full()) throw refusal();
    if (running < limit) {
      running += 1;
    } else {
      // The finishing task hands its slot straight to the head of the queue, so `running` stays the same.
      await new Promise<void>((resolve) => queue.push(resolve));
    }
    if (calm) clearTimeout(calm);
    calm = undefined;
    try {
      return await task();
    } finally {
      // The work ran on libuv's pool, whose threads exist from the first such call on: keep them below the event
      // loop, and at the lowest priority while checks wait (a flood) until the hasher has been calm a while.
      if (queue.length > 0) lowerHelperThreads();
      else if (helperNice() !== HELPER_NICE) easeHelperThreads();
      const next = queue.shift();
      if (next) next();
      else running -= 1;
      // After a flood, the helpers come back up once the hasher has been idle a while.
      if (running === 0 && queue.length === 0 && helperNice() === HELPER_NICE) {
        calm = setTimeout(easeHelperThreads, CALM_MS);
        calm.unref();
      }
    }
  }

  return { run, reserve, active: () => running, waiting: () => queue.length, reserved: () => reserved };
}
