// Start-up time and idle memory of the compiled server (`node dist/main.js start`): time from spawn
// to the first 200 from GET /health on a fresh DATA_DIR (PGlite creates its database) and on the
// existing one (a warm restart), each start's phases as the server logs them (import, config,
// database, migrations, modules, routes, listen), VmRSS two seconds after it answered, and VmRSS
// once it has been idle for a minute (the goal: by then V8's memory reducer has run), on the
// default environment and with the deployment files' MALLOC_ARENA_MAX=2; with --database-url and
// --redis-url, also one start on PostgreSQL + Redis and its RSS.
// Run alone: `node --import tsx bench/startup.ts [--no-build] [--existing-runs 3]
//   [--database-url postgres://… --redis-url redis://…]` (a database of its own: migrations run on it).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { ROOT, benchSecrets, freePort, isMain, median, sleep, textTable } from "./lib.js";

export const STARTUP_GOALS = { firstMs: 2_500, existingMs: 1_000, rssMb: 200, serverRssMb: 100 } as const;

/** How long after answering the server's memory is read first. */
const IDLE_MS = 2_000;
/**
 * How long a server is left idle before its idle memory is read. V8 keeps the heap it grew while
 * starting until its memory reducer runs, which it schedules once allocation has been low for a
 * while: 20 to 40 s after the start on these machines (`--no-memory-reducer` keeps the start's
 * figure). Idle memory is what a server holds once that has happened.
 */
const SETTLED_MS = 60_000;
/** glibc's cap on malloc arenas that Dockerfile, compose.yaml and deploy/bulwark.service set. */
const DEPLOYED_ENV = { MALLOC_ARENA_MAX: "2" } as const;
/** A start that has not answered by then has failed. */
const START_TIMEOUT_MS = 300_000;

export type StartRun = {
  /** Spawn to first 200 from GET /health. */
  readyMs: number;
  /** VmRSS IDLE_MS after answering, in MB. */
  rssMb: number;
  /** VmRSS after SETTLED_MS idle, in MB, for the starts kept that long. */
  settledRssMb?: number;
  /** VmHWM: the peak resident set during start-up, in MB. */
  peakRssMb: number;
  /** SIGTERM to exit. */
  stopMs: number;
  /** The server's own account of its start (the `startup` field of "bulwark listening"), in ms. */
  phases: Record<string, number>;
};

export type StartupResult = {
  buildMs: number | undefined;
  first: StartRun;
  existing: StartRun[];
  existingMedianMs: number;
  /** A warm restart with the deployment files' environment (DEPLOYED_ENV), kept idle SETTLED_MS. */
  deployed: StartRun;
  /** One start on PostgreSQL + Redis, when their URLs were given. */
  server: StartRun | undefined;
  goals: typeof STARTUP_GOALS;
  pass: {
    first: boolean;
    existing: boolean;
    rss: boolean;
    deployedRss: boolean;
    serverRss: boolean | undefined;
  };
};

/** The phases from the server's "bulwark listening" log line. */
function phasesOf(output: string): Record<string, number> {
  for (const line of output.split("\n")) {
    if (!line.includes('"bulwark listening"')) continue;
    try {
      return (JSON.parse(line) as { startup?: Record<string, number> }).startup ?? {};
    } catch {
      return {};
    }
  }
  return {};
}

function status(port: number): Promise<number> {
  return new Promise((resolveStatus) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/health", method: "GET", timeout: 1_000, agent: false },
      (res) => {
        res.resume();
        resolveStatus(res.statusCode ?? 0);
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolveStatus(0));
    req.end();
  });
}

function memoryMb(pid: number): { rss: number; peak: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((done) => child.once("exit", () => done()));
}

/** Starts `node dist/main.js start` on `dataDir`, waits for /health, idles, reads memory, stops it. */
async function startOnce(
  dataDir: string,
  secrets: Record<string, string | undefined>,
  stores: { DATABASE_URL?: string; REDIS_URL?: string } = {},
  options: { settle?: boolean; env?: Record<string, string> } = {},
): Promise<StartRun> {
  const port = await freePort();
  // A minimal environment: no inherited DATABASE_URL / REDIS_URL / NODE_ENV, and cwd is the temp
  // folder so no .env is read. Only the embedded defaults are measured.
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    HOST: "127.0.0.1",
    PORT: String(port),
    ...secrets,
    ...stores,
    ...options.env,
  };
  const output: string[] = [];
  const started = performance.now();
  const child = spawn(process.execPath, [join(ROOT, "dist/main.js"), "start"], {
    cwd: dataDir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString("utf8"));
    if (output.length > 200) output.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  try {
    let readyMs: number | undefined;
    while (readyMs === undefined) {
      if (child.exitCode !== null)
        throw new Error(`server exited with ${child.exitCode} before answering:\n${output.join("")}`);
      if (performance.now() - started > START_TIMEOUT_MS)
        throw new Error(`no 200 from /health after ${START_TIMEOUT_MS} ms:\n${output.join("")}`);
      if ((await status(port)) === 200) readyMs = performance.now() - started;
      else await sleep(10);
    }
    await sleep(IDLE_MS);
    const memory = memoryMb(child.pid!);
    let settledRssMb: number | undefined;
    if (options.settle) {
      await sleep(SETTLED_MS - IDLE_MS);
      settledRssMb = memoryMb(child.pid!).rss;
    }
    const stopping = performance.now();
    child.kill("SIGTERM");
    await exited(child);
    return {
      readyMs,
      rssMb: memory.rss,
      ...(settledRssMb === undefined ? {} : { settledRssMb }),
      peakRssMb: memory.peak,
      stopMs: performance.now() - stopping,
      phases: phasesOf(output.join("")),
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited(child);
    }
  }
}

/** Builds dist/ (unless told not to), then measures a first start and `existingRuns` starts on the same data. */
export async function measureStartup(
  options: { build?: boolean; existingRuns?: number; databaseUrl?: string; redisUrl?: string } = {},
): Promise<StartupResult> {
  let buildMs: number | undefined;
  if (options.build !== false) {
    const began = performance.now();
    const build = spawnSync("npm", ["run", "build"], { cwd: ROOT, encoding: "utf8" });
    if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
    buildMs = performance.now() - began;
  }
  if (!existsSync(join(ROOT, "dist/main.js"))) throw new Error("dist/main.js is missing: run npm run build");

  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-startup-"));
  try {
    // The same secrets on every start, as a deployment has; generated here, never committed.
    const secrets = benchSecrets();
    const first = await startOnce(dataDir, secrets);
    const existing: StartRun[] = [];
    const runs = options.existingRuns ?? 3;
    // The last warm restart is also the one whose idle memory is read.
    for (let i = 0; i < runs; i++) existing.push(await startOnce(dataDir, secrets, {}, { settle: i === runs - 1 }));
    const existingMedianMs = median(existing.map((r) => r.readyMs));
    const settled = existing.at(-1)!.settledRssMb!;
    const deployed = await startOnce(dataDir, secrets, {}, { settle: true, env: DEPLOYED_ENV });
    const server =
      options.databaseUrl && options.redisUrl
        ? await startOnce(
            dataDir,
            secrets,
            { DATABASE_URL: options.databaseUrl, REDIS_URL: options.redisUrl },
            { settle: true },
          )
        : undefined;
    return {
      buildMs,
      first,
      existing,
      existingMedianMs,
      deployed,
      server,
      goals: STARTUP_GOALS,
      pass: {
        first: first.readyMs < STARTUP_GOALS.firstMs,
        existing: existingMedianMs < STARTUP_GOALS.existingMs,
        rss: settled <= STARTUP_GOALS.rssMb,
        deployedRss: deployed.settledRssMb! <= STARTUP_GOALS.rssMb,
        serverRss: server ? server.settledRssMb! <= STARTUP_GOALS.serverRssMb : undefined,
      },
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");

/** The start-up results as table rows: what, measured, goal, verdict. */
export function startupRows(result: StartupResult): string[][] {
  const rssAll = [result.first, ...result.existing].map((r) => r.rssMb);
  return [
    ["start-up (dist/main.js start)", "measured", "goal", ""],
    [
      "first start, fresh DATA_DIR",
      `${Math.round(result.first.readyMs)} ms`,
      `< ${result.goals.firstMs} ms`,
      verdict(result.pass.first),
    ],
    [
      `existing DATA_DIR (median of ${result.existing.length})`,
      `${Math.round(result.existingMedianMs)} ms`,
      `< ${result.goals.existingMs} ms`,
      verdict(result.pass.existing),
    ],
    ["  each existing start", result.existing.map((r) => Math.round(r.readyMs)).join(" / ") + " ms", "", ""],
    [
      `RSS ${IDLE_MS / 1000} s after answering (first / existing)`,
      `${result.first.rssMb.toFixed(0)} / ${median(result.existing.map((r) => r.rssMb)).toFixed(0)} MB`,
      "",
      "",
    ],
    [
      `idle RSS after ${SETTLED_MS / 1000} s, warm restart`,
      `${result.existing.at(-1)!.settledRssMb!.toFixed(0)} MB`,
      `≤ ${result.goals.rssMb} MB`,
      verdict(result.pass.rss),
    ],
    [
      `  the same with ${Object.entries(DEPLOYED_ENV)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")} (deployment files)`,
      `${result.deployed.settledRssMb!.toFixed(0)} MB`,
      `≤ ${result.goals.rssMb} MB`,
      verdict(result.pass.deployedRss),
    ],
    ...(result.server
      ? [
          [
            `PostgreSQL + Redis: start / RSS after ${IDLE_MS / 1000} s / idle RSS after ${SETTLED_MS / 1000} s`,
            `${Math.round(result.server.readyMs)} ms / ${result.server.rssMb.toFixed(0)} / ${result.server.settledRssMb!.toFixed(0)} MB`,
            `≤ ${result.goals.serverRssMb} MB`,
            verdict(result.pass.serverRss === true),
          ],
        ]
      : []),
    [
      "  peak RSS while starting (first / existing)",
      `${result.first.peakRssMb.toFixed(0)} / ${median(result.existing.map((r) => r.peakRssMb)).toFixed(0)} MB`,
      "",
      "",
    ],
    [
      `  highest RSS ${IDLE_MS / 1000} s after answering, of all starts`,
      `${Math.max(...rssAll).toFixed(0)} MB`,
      "",
      "",
    ],
    [
      "  graceful stop (SIGTERM to exit, median)",
      `${Math.round(median([result.first, ...result.existing].map((r) => r.stopMs)))} ms`,
      "",
      "",
    ],
  ];
}

/** Each start's phases (ms), as the server logged them: first start, warm restarts' median, PostgreSQL. */
export function phaseRows(result: StartupResult): string[][] {
  const names = [...new Set([result.first, ...result.existing].flatMap((r) => Object.keys(r.phases)))];
  const warm = (name: string) => median(result.existing.map((r) => r.phases[name] ?? Number.NaN));
  return [
    [
      "phase (ms, from the server's log)",
      "fresh DATA_DIR",
      "warm restart (median)",
      ...(result.server ? ["PostgreSQL + Redis"] : []),
    ],
    ...names.map((name) => [
      name,
      String(result.first.phases[name] ?? ""),
      String(Math.round(warm(name))),
      ...(result.server ? [String(result.server.phases[name] ?? "")] : []),
    ]),
  ];
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      "no-build": { type: "boolean" },
      "existing-runs": { type: "string", default: "3" },
      "database-url": { type: "string" },
      "redis-url": { type: "string" },
    },
  });
  const result = await measureStartup({
    build: !values["no-build"],
    existingRuns: Number(values["existing-runs"]),
    databaseUrl: values["database-url"],
    redisUrl: values["redis-url"],
  });
  if (result.buildMs !== undefined) console.log(`npm run build: ${(result.buildMs / 1000).toFixed(1)} s\n`);
  console.log(textTable(startupRows(result)));
  console.log(`\n${textTable(phaseRows(result))}`);
}
