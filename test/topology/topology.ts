// A deployment on loopback, started by tests and by hand (`node --import tsx test/topology/run.ts up`):
// Bulwark instances as real processes (`bulwark start`) behind Debian's nginx, with a PostgreSQL and
// a Redis of their own (own data directories, own free ports), so a test may kill any of them without
// touching anything else on the machine. Teardown always runs: `close()`, and on process exit or a
// signal every process started here (and only those) is killed and its directory removed.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { testSecrets } from "../harness.js";
import { freePort, postgresBinaries, startPrivatePostgres, type PrivatePostgres } from "../private-postgres.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));
const REDIS = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find((p) => existsSync(p));

/** Every wait here ends: a hang fails loudly instead of blocking a run. */
const WAIT_MS = 90_000;
/** Starting a process through tsx on a busy two-core machine can take minutes; a quiet one, seconds. */
const START_MS = 300_000;

/** The tools a topology needs, or why it cannot run on this machine. */
export function topologyTools(): { pgBin: string; nginx: string; redis: string } | { skip: string } {
  const pg = postgresBinaries();
  if ("skip" in pg) return pg;
  if (!NGINX) return { skip: "nginx is not installed (apt-get install nginx; .ci/run installs it)" };
  if (!REDIS) return { skip: "redis-server is not installed (apt-get install redis-server)" };
  return { pgBin: pg.bin, nginx: NGINX, redis: REDIS };
}

/** A child process of the topology: its output is kept (the tail) for failure messages. */
type Proc = {
  child: ChildProcess;
  /** Why it ended, or null while it runs. */
  exited(): string | null;
  output(): string;
  /** Resolves when the process has exited (at once if it has). */
  gone(): Promise<void>;
};

const children = new Set<ChildProcess>();
const cleanups = new Set<() => void>();
let hooked = false;

/** Kills every process this module started and runs the synchronous cleanups: for exit and signals. */
function killEverything(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // Best effort while exiting.
    }
  }
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", killEverything);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killEverything();
      process.exit(130);
    });
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Proc {
  hookExit();
  const child = spawn(command, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let output = "";
  let ended: string | null = null;
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-20_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exit = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      ended = `exited with code ${code} signal ${signal}`;
      children.delete(child);
      resolve();
    }),
  );
  child.once("error", (error) => {
    ended = `failed to start: ${error.message}`;
  });
  return { child, exited: () => ended, output: () => output, gone: () => exit };
}

/** Polls `condition` until it holds; throws after `ms`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  ms = WAIT_MS,
  detail: () => string = () => "",
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}${detail() ? `:\n${detail()}` : ""}`);
    await sleep(50);
  }
}

/** The status of GET `url`, or null when nothing answered. */
export async function statusOf(url: string): Promise<number | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

export type Instance = {
  readonly index: number;
  readonly port: number;
  /** `http://127.0.0.1:<port>`: the instance itself, bypassing the proxy. */
  readonly base: string;
  readonly pid: number | undefined;
  alive(): boolean;
  output(): string;
  /** Sends `signal` and waits for the process to end. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the instance again on its port; resolves once /ready answers 200. */
  start(): Promise<void>;
};

export type PrivateRedis = {
  readonly url: string;
  readonly port: number;
  alive(): boolean;
  /** SIGKILL: no shutdown, no save. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is saved). */
  start(): Promise<void>;
};

export type Topology = {
  /** The proxy: `http://127.0.0.1:<port>`, what clients use. */
  readonly base: string;
  readonly instances: Instance[];
  readonly pg: PrivatePostgres;
  readonly redis: PrivateRedis;
  /** The environment every instance shares (secrets included: never print it). */
  readonly env: Record<string, string>;
  /** Where the topology keeps its files (data, logs, nginx configuration). */
  readonly dir: string;
  /** Runs a `bulwark` command with the instances' environment. */
  cli(args: string[]): { status: number | null; stdout: string; stderr: string };
  /** The proxy's error log (for a failed test's message). */
  proxyLog(): string;
  close(): Promise<void>;
};

export type TopologyOptions = {
  instances?: number;
  /** Settings added to (or overriding) every instance's environment. */
  env?: Record<string, string>;
  log?: (line: string) => void;
};

async function startRedis(bin: string, dir: string): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: Proc | undefined;
  const start = async () => {
    proc = run(
      bin,
      ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
      process.env,
    );
    await until(
      async () => (await redisPing(port)) || proc!.exited() !== null,
      "redis-server to answer",
      WAIT_MS,
      () => proc!.output(),
    );
    if (proc.exited()) throw new Error(`redis-server ${proc.exited()}: ${proc.output()}`);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    alive: () => proc?.exited() === null,
    async kill() {
      if (proc && proc.exited() === null) {
        proc.child.kill("SIGKILL");
        await proc.gone();
      }
    },
    start,
  };
}

/** Whether a Redis answers PING on the port (a raw RESP exchange, no client library state). */
async function redisPing(port: number): Promise<boolean> {
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

function nginxConfig(dir: string, port: number, upstreams: number[]): string {
  return `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 20m;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream bulwark {
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join("\n")}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bulwark;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 60s;
      # A dead instance refuses connections: nginx tries the next one (nothing was sent yet, so a
      # POST is retried only when the instance never saw it).
      proxy_next_upstream error timeout;
      proxy_connect_timeout 2s;
    }
  }
}
`;
}

/**
 * Starts PostgreSQL, Redis, the instances (all at once, on the empty database: they race to migrate)
 * and nginx in front of them; resolves once the proxy and every instance answer /ready with 200.
 */
export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  const tools = topologyTools();
  if ("skip" in tools) throw new Error(tools.skip);
  const log = options.log ?? (() => undefined);
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), "bulwark-topology-"));
  let pg: PrivatePostgres | undefined;
  const removeDir = () => {
    pg?.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.add(removeDir);
  const procs: Proc[] = [];
  const instances: Instance[] = [];
  let nginx: Proc | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    const running = [...procs, ...(nginx ? [nginx] : [])].filter((p) => p.exited() === null);
    for (const p of running) p.child.kill("SIGTERM");
    await Promise.race([Promise.all(running.map((p) => p.gone())), sleep(15_000)]);
    for (const p of running) if (p.exited() === null) p.child.kill("SIGKILL");
    await Promise.all(running.map((p) => p.gone()));
    await redis?.kill();
    removeDir();
    cleanups.delete(removeDir);
  };
  let redis: PrivateRedis | undefined;
  try {
    log("starting PostgreSQL and Redis");
    [pg, redis] = await Promise.all([startPrivatePostgres(tools.pgBin), startRedis(tools.redis, dir)]);
    const count = options.instances ?? 3;
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    const proxyPort = await freePort();
    const base = `http://127.0.0.1:${proxyPort}`;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? dir,
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      HOST: "127.0.0.1",
      // One DATA_DIR for all, as a shared volume would be: uploaded files are the deployment's.
      DATA_DIR: join(dir, "data"),
      PUBLIC_URL: base,
      // Only the proxy's address is believed in X-Forwarded-For: a client cannot choose its IP.
      TRUST_PROXY: "127.0.0.1",
      LOG_LEVEL: "warn",
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      ...(testSecrets() as Record<string, string>),
      ...options.env,
    };
    const makeInstance = (index: number, port: number): Instance => {
      let proc: Proc | undefined;
      const instanceBase = `http://127.0.0.1:${port}`;
      const start = async () => {
        proc = run(process.execPath, ["--import", "tsx", "src/main.ts", "start"], { ...env, PORT: String(port) });
        procs.push(proc);
        const p = proc;
        await until(
          async () => p.exited() !== null || (await statusOf(`${instanceBase}/ready`)) === 200,
          `instance ${index} to become ready`,
          START_MS,
          () => p.output().slice(-4000),
        );
        if (p.exited()) throw new Error(`instance ${index} ${p.exited()}:\n${p.output().slice(-4000)}`);
      };
      return {
        index,
        port,
        base: instanceBase,
        get pid() {
          return proc?.child.pid;
        },
        alive: () => proc !== undefined && proc.exited() === null,
        output: () => proc?.output() ?? "",
        async kill(signal = "SIGKILL") {
          if (!proc || proc.exited() !== null) return;
          proc.child.kill(signal);
          await proc.gone();
        },
        start,
      };
    };
    for (let i = 0; i < count; i++) instances.push(makeInstance(i, ports[i]!));
    log(`starting ${count} instances on an empty database`);
    await Promise.all(instances.map((i) => i.start()));
    writeFileSync(join(dir, "nginx.conf"), nginxConfig(dir, proxyPort, ports));
    log("starting nginx");
    nginx = run(tools.nginx, ["-p", dir, "-c", join(dir, "nginx.conf")], process.env);
    const proxy = nginx;
    await until(
      async () => proxy.exited() !== null || (await statusOf(`${base}/ready`)) === 200,
      "nginx to answer",
      WAIT_MS,
      () => proxy.output() + readLog(join(dir, "nginx-error.log")),
    );
    if (proxy.exited()) throw new Error(`nginx ${proxy.exited()}: ${proxy.output()}`);
    const topology: Topology = {
      base,
      instances,
      pg,
      redis,
      env,
      dir,
      cli(args) {
        const result = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
          cwd: ROOT,
          env,
          encoding: "utf8",
          timeout: 120_000,
        });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
      },
      proxyLog: () => readLog(join(dir, "nginx-error.log")),
      close,
    };
    return topology;
  } catch (error) {
    await close();
    throw error;
  }
}

function readLog(file: string): string {
  return existsSync(file) ? readFileSync(file, "utf8").slice(-4000) : "";
}
