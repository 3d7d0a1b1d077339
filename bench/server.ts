// One benchmark server in its own process: `node --import tsx bench/server.ts <scenario>`.
// Prints its port on the first stdout line once listening; the identity scenarios (`*me*`) then
// print, on the second line, the access token of the user they registered and signed in at
// start-up. Afterwards it answers two commands on stdin with one JSON line each on stdout: `mark`
// (start a measurement window) and `stats` (what the process did since the mark: CPU, event-loop
// use, log lines written, memory, password-hasher work).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import Fastify, { type FastifyInstance } from "fastify";
import { createPasswordHasher, randomToken, type PasswordHasher } from "../src/core/crypto/index.js";
import { createLogger, logDestination } from "../src/core/logger.js";
import { requestId, securityHeaders } from "../src/http/headers.js";
import { ratePlans } from "../src/http/rate-limit.js";
import { createApp, loadConfig, Type } from "../src/index.js";
import { benchSecrets, isMain } from "./lib.js";

/**
 * `bare-headers` is bare Fastify sending what the contract puts on every response (the security
 * headers, a request id, the RateLimit headers) and nothing else: the floor of those bytes.
 * The default scenarios, and `bulwark-memory-warn` (LOG_LEVEL=warn: no request line), a diagnostic of
 * what logging costs. The `*me*` scenarios serve GET /api/users/me to a signed-in user;
 * `me-under-login-flood` is that server with the login limit out of the way, for the flood.
 * `bulwark-key-memory` serves a library route guarded by an API key scope (`GET /api/bench/key`),
 * called with the key of the user it signed in; it prints the key where the others print a token.
 */
export const SCENARIOS = [
  "bare",
  "bare-headers",
  "bulwark-memory",
  "bulwark-redis",
  "bulwark-memory-warn",
  "bulwark-me-memory",
  "bulwark-me-pg-redis",
  "bulwark-key-memory",
  "me-under-login-flood",
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** The scenarios whose server registers a user, signs in at start-up and prints the access token. */
export const IDENTITY_SCENARIOS: readonly Scenario[] = [
  "bulwark-me-memory",
  "bulwark-me-pg-redis",
  "bulwark-key-memory",
  "me-under-login-flood",
];
/** The scenarios authenticated by an API key (the second line the server prints is the key). */
export const KEY_SCENARIOS: readonly Scenario[] = ["bulwark-key-memory"];
/** The scope the key scenario's route requires and its key holds. */
export const BENCH_KEY_SCOPE = "bench:read";
/** The scenarios whose counters live in Redis. */
export const REDIS_SCENARIOS: readonly Scenario[] = ["bulwark-redis", "bulwark-me-pg-redis"];

/** What `stats` reports about the server since the last `mark`. */
export type ServerStats = {
  wallMs: number;
  /** User + system CPU time of the server process, in ms. */
  cpuMs: number;
  /** Event-loop utilisation (0..1): near 1 means the server, not the load generator, was the limit. */
  elu: number;
  logLines: number;
  logBytes: number;
  /** The first log line written after the mark, as written (request lines carry no secrets). */
  sampleLogLine: string | undefined;
  rssMb: number;
  counters: string | undefined;
  cache: "ok" | "degraded" | undefined;
  /** The window on the monotonic clock V8's CPU profiles use (µs), to cut a --cpu-prof profile to the measurement. */
  windowUs: [number, number];
  /** Password-hasher work since the mark (identity scenarios): Argon2 calls, and the deepest queue and most in flight seen (sampled every 20 ms). */
  hasher?: { hashes: number; verifications: number; maxQueued: number; maxInFlight: number };
};

const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
/** High enough not to trip in a run (about 60k req/s at most here), low enough to stay a real check. */
const BENCH_RATE_LIMIT = "100000000";

const HelloResponse = Type.Object({ hello: Type.String() }, { additionalProperties: false });

async function bare(withHeaders = false): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, ...(withHeaders ? { genReqId: requestId } : {}) });
  if (withHeaders) {
    // The same set and byte counts as Bulwark's /hello, set as cheaply as Fastify allows.
    const limit = Number(BENCH_RATE_LIMIT);
    const { header: policy } = ratePlans({
      enabled: true,
      perMinute: limit,
      perHour: limit,
      registerPerMinute: limit,
      loginPerMinute: limit,
      sensitivePerMinute: limit,
      introspectPerMinute: limit,
    }).default;
    const fixed = { ...securityHeaders(false), "ratelimit-policy": policy };
    let used = 0;
    app.addHook("onRequest", (request, reply, done) => {
      used += 1;
      reply.headers(fixed);
      reply.header("x-request-id", request.id);
      reply.header("ratelimit", `"minute";r=${limit - used};t=60`);
      done();
    });
  }
  app.get("/hello", async () => ({ hello: "world" }));
  return app;
}

/** Counts what the logger writes, at the cost of two additions per line. */
function countingDevNull() {
  // The logger's own batching (2-4 KiB writes), as a server started by `bulwark start` writes.
  const destination = logDestination("/dev/null");
  const tally = { lines: 0, bytes: 0, sample: undefined as string | undefined };
  const write = destination.write.bind(destination);
  destination.write = (data: string): boolean => {
    tally.lines += 1;
    tally.bytes += data.length;
    tally.sample ??= data.trimEnd();
    return write(data);
  };
  return { destination, tally };
}

type BulwarkOptions = {
  redis: boolean;
  /** PostgreSQL instead of PGlite (bulwark-me-pg-redis: a database run.ts created for this run). */
  databaseUrl?: string | undefined;
  logLevel?: string | undefined;
  /** Identity scenarios: tokens valid for the whole run, and (for the flood) no per-IP login limit. */
  identity?: { loginUnlimited: boolean } | undefined;
  hasher?: PasswordHasher | undefined;
  /** Adds GET /api/bench/key, guarded by an API key scope. */
  keyRoute?: boolean;
};

async function bulwark(
  options: BulwarkOptions,
  tally: ReturnType<typeof countingDevNull>,
): Promise<{ app: FastifyInstance; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-bench-"));
  const config = loadConfig(
    {
      DATA_DIR: dataDir,
      ...benchSecrets(),
      // Counted per user for /me, per IP for the login flood: neither may trip during a run.
      RATE_LIMIT_PER_MINUTE: BENCH_RATE_LIMIT,
      RATE_LIMIT_PER_HOUR: BENCH_RATE_LIMIT,
      ...(options.redis ? { REDIS_URL: process.env.BENCH_REDIS_URL || DEFAULT_REDIS_URL } : {}),
      ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
      ...(options.logLevel ? { LOG_LEVEL: options.logLevel } : {}),
      // The longest lifetime allowed, so the token printed at start-up outlives the run.
      ...(options.identity ? { ACCESS_TOKEN_TTL: "86400" } : {}),
      ...(options.identity?.loginUnlimited ? { AUTH_LOGIN_PER_MINUTE: BENCH_RATE_LIMIT } : {}),
    },
    { generateDevSecrets: false },
  );
  // The logger `bulwark start` builds (LOG_LEVEL default info, redaction, secret scrubbing), writing to /dev/null.
  const logger = createLogger({
    level: config.logLevel,
    secrets: [config.secretKey, config.metricsToken, config.encryptionKeys],
    destination: tally.destination,
  });
  // The hasher createApp would build itself (same defaults), passed in only so its stats can be read.
  const app = await createApp(config, { logger, ...(options.hasher ? { hasher: options.hasher } : {}) });
  // A library route, as a user of Bulwark adds one: default auth (none) and rate-limit class.
  app.get(
    "/hello",
    { schema: { response: { 200: HelloResponse } }, config: { auth: "public", rateLimit: "default" } },
    async () => ({ hello: "world" }),
  );
  // The same answer behind an API key scope (bulwark-key-memory).
  if (options.keyRoute)
    app.get(
      "/api/bench/key",
      {
        schema: { response: { 200: HelloResponse } },
        config: { auth: { apiKey: BENCH_KEY_SCOPE }, rateLimit: "default" },
      },
      async () => ({ hello: "world" }),
    );
  return { app, dataDir };
}

/** Registers one user and signs it in through the API (as test/identity.ts does); returns the access token. */
async function signIn(app: FastifyInstance): Promise<string> {
  const username = `bench_${randomToken(6).replace(/[^A-Za-z0-9]/g, "x")}`;
  const password = `Lantern ${randomToken(9)} orchard`;
  const registered = await app.inject({
    method: "POST",
    url: "/api/auth/register",
    payload: { username, email: `${username.toLowerCase()}@example.com`, password },
  });
  if (registered.statusCode !== 201) throw new Error(`register answered ${registered.statusCode}: ${registered.body}`);
  // An API key needs a proven address: marked as an operator would (`bulwark users verify-email`).
  await app.bulwark.accounts.markEmailVerified((registered.json() as { user: { id: string } }).user.id, {
    via: "bench",
  });
  const login = await app.inject({ method: "POST", url: "/api/auth/login", payload: { login: username, password } });
  if (login.statusCode !== 200) throw new Error(`login answered ${login.statusCode}: ${login.body}`);
  const token = (login.json() as { access_token?: unknown }).access_token;
  if (typeof token !== "string") throw new Error("login returned no access_token");
  // Sudo mode, so the session may create the bench's API key.
  const stepUp = await app.inject({
    method: "POST",
    url: "/api/auth/step-up",
    headers: { authorization: `Bearer ${token}` },
    payload: { password },
  });
  if (stepUp.statusCode !== 200) throw new Error(`step-up answered ${stepUp.statusCode}: ${stepUp.body}`);
  return token;
}

/** Creates an API key with the bench scope for the signed-in user (through the API); returns the key. */
async function createKey(app: FastifyInstance, accessToken: string): Promise<string> {
  const res = await app.inject({
    method: "POST",
    url: "/api/keys",
    headers: { authorization: `Bearer ${accessToken}` },
    payload: { name: "bench", scopes: [BENCH_KEY_SCOPE] },
  });
  if (res.statusCode !== 201) throw new Error(`POST /api/keys answered ${res.statusCode}: ${res.body}`);
  const key = (res.json() as { key?: unknown }).key;
  if (typeof key !== "string") throw new Error("POST /api/keys returned no key");
  return key;
}

/** Waits up to 5 s for the counters' Redis connection to be ready (ioredis connects in the background). */
async function redisReady(app: FastifyInstance): Promise<boolean> {
  for (let waited = 0; waited < 5_000; waited += 50) {
    if ((await app.bulwark.counters.ping(1_000)) === "ok") return true;
    await new Promise((done) => setTimeout(done, 50));
  }
  return false;
}

async function main(): Promise<void> {
  const scenario = process.argv[2] as Scenario | undefined;
  if (!scenario || !SCENARIOS.includes(scenario)) throw new Error(`usage: bench/server.ts <${SCENARIOS.join("|")}>`);

  const log = countingDevNull();
  const identity = IDENTITY_SCENARIOS.includes(scenario);
  // BENCH_HASHER_MAX_CONCURRENT: a diagnostic, to see what the hasher's concurrency costs the event loop.
  const maxConcurrent = Number(process.env.BENCH_HASHER_MAX_CONCURRENT) || undefined;
  const hasher = identity ? createPasswordHasher(maxConcurrent ? { maxConcurrent } : {}) : undefined;
  // BENCH_FLOOD_STORE=pg-redis (diagnostic): the flood's server on PostgreSQL and Redis, like bulwark-me-pg-redis.
  const pgRedis =
    scenario === "bulwark-me-pg-redis" ||
    (scenario === "me-under-login-flood" && process.env.BENCH_FLOOD_STORE === "pg-redis");
  const redis = REDIS_SCENARIOS.includes(scenario) || pgRedis;
  let dataDir: string | undefined;
  let app: FastifyInstance;
  if (scenario === "bare" || scenario === "bare-headers") {
    app = await bare(scenario === "bare-headers");
  } else {
    if (pgRedis && !process.env.BENCH_DATABASE_URL)
      throw new Error(`${scenario} on PostgreSQL needs BENCH_DATABASE_URL (run.ts creates the database)`);
    ({ app, dataDir } = await bulwark(
      {
        redis,
        databaseUrl: pgRedis ? process.env.BENCH_DATABASE_URL : undefined,
        logLevel: scenario === "bulwark-memory-warn" ? "warn" : undefined,
        identity: identity ? { loginUnlimited: scenario === "me-under-login-flood" } : undefined,
        hasher,
        keyRoute: KEY_SCENARIOS.includes(scenario),
      },
      log,
    ));
  }
  const cleanup = () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  process.once("exit", cleanup);

  if (redis && !(await redisReady(app))) {
    // The in-memory insurance limiter would take over silently and the numbers would lie.
    throw new Error("Redis is configured but not answering");
  }
  // Before listening, through app.inject: the two requests are not part of any measurement.
  const signedIn = identity ? await signIn(app) : undefined;
  const token = signedIn && KEY_SCENARIOS.includes(scenario) ? await createKey(app, signedIn) : signedIn;
  await app.listen({ host: "127.0.0.1", port: 0 });
  // A started server compiles its routes' schemas in the background; the measurement starts after
  // that work, not during it (on a slow machine it ran into the first seconds: 2.6 µs of Ajv a request).
  await app.bulwark?.compileSchemas();
  const address = app.server.address();
  process.stdout.write(`${typeof address === "object" && address ? address.port : 0}\n`);
  if (token) process.stdout.write(`${token}\n`);

  // The hasher's queue depth, sampled: its stats are instantaneous.
  const hasherPeak = { queued: 0, inFlight: 0 };
  if (hasher) {
    setInterval(() => {
      const now = hasher.stats();
      hasherPeak.queued = Math.max(hasherPeak.queued, now.queued);
      hasherPeak.inFlight = Math.max(hasherPeak.inFlight, now.inFlight);
    }, 20).unref();
  }
  let hasherMark = hasher?.stats();

  const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
  let mark = {
    at: monotonicUs(),
    wall: performance.now(),
    cpu: process.cpuUsage(),
    elu: performance.eventLoopUtilization(),
    lines: 0,
    bytes: 0,
  };
  const commands = createInterface({ input: process.stdin });
  commands.on("line", (line) => {
    const command = line.trim();
    if (command === "mark") {
      log.tally.sample = undefined;
      mark = {
        at: monotonicUs(),
        wall: performance.now(),
        cpu: process.cpuUsage(),
        elu: performance.eventLoopUtilization(),
        lines: log.tally.lines,
        bytes: log.tally.bytes,
      };
      hasherMark = hasher?.stats();
      hasherPeak.queued = 0;
      hasherPeak.inFlight = 0;
      process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
    } else if (command === "stats") {
      const cpu = process.cpuUsage(mark.cpu);
      const counters = app.bulwark?.counters;
      void (counters ? counters.ping(2_000) : Promise.resolve(undefined)).then((cache) => {
        const stats: ServerStats = {
          wallMs: performance.now() - mark.wall,
          windowUs: [mark.at, monotonicUs()],
          cpuMs: (cpu.user + cpu.system) / 1000,
          elu: performance.eventLoopUtilization(mark.elu).utilization,
          logLines: log.tally.lines - mark.lines,
          logBytes: log.tally.bytes - mark.bytes,
          sampleLogLine: log.tally.sample,
          rssMb: process.memoryUsage.rss() / 1024 / 1024,
          counters: counters?.kind,
          cache,
          ...(hasher && hasherMark
            ? {
                hasher: {
                  hashes: hasher.stats().hashes - hasherMark.hashes,
                  verifications: hasher.stats().verifications - hasherMark.verifications,
                  maxQueued: hasherPeak.queued,
                  maxInFlight: hasherPeak.inFlight,
                },
              }
            : {}),
        };
        process.stdout.write(`${JSON.stringify(stats)}\n`);
      });
    }
  });

  const stop = () => {
    void app.close().finally(() => {
      try {
        log.destination.flushSync();
      } catch {
        // Nothing buffered, or the destination is not open yet: nothing to lose on /dev/null.
      }
      process.exit(0);
    });
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // The parent went away: do not linger as an orphan holding a port and a temp directory.
  commands.once("close", stop);
}

// run.ts imports the scenario lists from here: start a server only when run as the script.
if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench server: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
