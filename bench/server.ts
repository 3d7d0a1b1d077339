// One benchmark server in its own process: `node --import tsx bench/server.ts <scenario>`.
// Prints its port on the first stdout line once listening. Afterwards it answers two commands on
// stdin with one JSON line each on stdout: `mark` (start a measurement window) and `stats` (what
// the process did since the mark: CPU, event-loop use, log lines written, memory).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import Fastify, { type FastifyInstance } from "fastify";
import { pino } from "pino";
import { createLogger } from "../src/core/logger.js";
import { createApp, loadConfig, Type } from "../src/index.js";
import { benchSecrets } from "./lib.js";

/** The default scenarios, and `bulwark-memory-warn` (LOG_LEVEL=warn: no request line), a diagnostic of what logging costs. */
export const SCENARIOS = ["bare", "bulwark-memory", "bulwark-redis", "bulwark-memory-warn"] as const;
export type Scenario = (typeof SCENARIOS)[number];

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
};

const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
/** High enough not to trip in a run (about 60k req/s at most here), low enough to stay a real check. */
const BENCH_RATE_LIMIT = "100000000";

const HelloResponse = Type.Object({ hello: Type.String() }, { additionalProperties: false });

async function bare(): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get("/hello", async () => ({ hello: "world" }));
  return app;
}

/** Counts what the logger writes, at the cost of two additions per line. */
function countingDevNull() {
  const destination = pino.destination({ dest: "/dev/null", sync: false });
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

async function bulwark(redis: boolean, logLevel: string | undefined, tally: ReturnType<typeof countingDevNull>): Promise<{ app: FastifyInstance; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-bench-"));
  const config = loadConfig({
    DATA_DIR: dataDir,
    ...benchSecrets(),
    RATE_LIMIT_PER_MINUTE: BENCH_RATE_LIMIT,
    RATE_LIMIT_PER_HOUR: BENCH_RATE_LIMIT,
    ...(redis ? { REDIS_URL: process.env.BENCH_REDIS_URL || DEFAULT_REDIS_URL } : {}),
    ...(logLevel ? { LOG_LEVEL: logLevel } : {}),
  }, { generateDevSecrets: false });
  // The logger `bulwark start` builds (LOG_LEVEL default info, redaction, secret scrubbing), writing to /dev/null.
  const logger = createLogger({ level: config.logLevel, secrets: [config.secretKey, config.metricsToken, config.encryptionKeys], destination: tally.destination });
  const app = await createApp(config, { logger });
  // A library route, as a user of Bulwark adds one: default auth (none) and rate-limit class.
  app.get("/hello", { schema: { response: { 200: HelloResponse } } }, async () => ({ hello: "world" }));
  return { app, dataDir };
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
  let dataDir: string | undefined;
  let app: FastifyInstance;
  if (scenario === "bare") {
    app = await bare();
  } else {
    ({ app, dataDir } = await bulwark(scenario === "bulwark-redis", scenario === "bulwark-memory-warn" ? "warn" : undefined, log));
  }
  const cleanup = () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  process.once("exit", cleanup);

  await app.listen({ host: "127.0.0.1", port: 0 });
  if (scenario === "bulwark-redis" && !(await redisReady(app))) {
    // The in-memory insurance limiter would take over silently and the numbers would lie.
    throw new Error("Redis is configured but not answering");
  }
  const address = app.server.address();
  process.stdout.write(`${typeof address === "object" && address ? address.port : 0}\n`);

  let mark = { wall: performance.now(), cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), lines: 0, bytes: 0 };
  const commands = createInterface({ input: process.stdin });
  commands.on("line", (line) => {
    const command = line.trim();
    if (command === "mark") {
      log.tally.sample = undefined;
      mark = { wall: performance.now(), cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), lines: log.tally.lines, bytes: log.tally.bytes };
      process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
    } else if (command === "stats") {
      const cpu = process.cpuUsage(mark.cpu);
      const counters = scenario === "bare" ? undefined : app.bulwark.counters;
      void (counters ? counters.ping(2_000) : Promise.resolve(undefined)).then((cache) => {
        const stats: ServerStats = {
          wallMs: performance.now() - mark.wall,
          cpuMs: (cpu.user + cpu.system) / 1000,
          elu: performance.eventLoopUtilization(mark.elu).utilization,
          logLines: log.tally.lines - mark.lines,
          logBytes: log.tally.bytes - mark.bytes,
          sampleLogLine: log.tally.sample,
          rssMb: process.memoryUsage.rss() / 1024 / 1024,
          counters: counters?.kind,
          cache,
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

main().catch((error: unknown) => {
  process.stderr.write(`bench server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
