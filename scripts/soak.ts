// npm run soak -- [--url URL --database-url URL --webhook-secret S | --topology 3] [--minutes 10] [--workers 8] [--pids 1,2,3]
//
// Ten minutes (by default) of mixed load — sign-ins, refreshes, authenticated reads, API-key calls,
// messages, uploads, signed inbound webhooks — against a running deployment (--url, e.g. the proxy
// of a several-instance topology; --pids names the server processes whose memory to sample), or,
// without --url, against one instance this script starts on PostgreSQL and Redis and stops again;
// --topology N starts N instances behind nginx with their own PostgreSQL and Redis
// (test/topology/topology.ts) and soaks them through the proxy.
// Reports RSS growth after warm-up, every answer that was not a success or an intended 429, and the
// p99 latency of each minute (docs/reliability.md, "Soak"). Exit 1 when a goal is missed.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import sharp from "sharp";
import { Webhook } from "standardwebhooks";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    minutes: { type: "string", default: "10" },
    "warmup-minutes": { type: "string" },
    workers: { type: "string", default: "8" },
    users: { type: "string", default: "16" },
    pids: { type: "string" },
    "database-url": { type: "string" },
    "redis-url": { type: "string", default: "redis://127.0.0.1:6379" },
    "webhook-secret": { type: "string" },
    "sample-seconds": { type: "string", default: "5" },
    topology: { type: "string" },
  },
});
const minutes = Number(values.minutes);
const warmup = Number(values["warmup-minutes"] ?? Math.min(2, minutes / 5));
const workers = Number(values.workers);

// ---------------------------------------------------------------- the server

type Target = { url: string; pids: number[]; databaseUrl?: string; webhookSecret?: string; stop(): Promise<void> };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

const newWebhookSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

/** The settings of a soaked deployment (beyond its secrets and addresses). */
function soakSettings(webhookSecret: string): Record<string, string> {
  const many = "1000000";
  return {
    WEBHOOK_SECRET_GITHUB: webhookSecret,
    REGISTRATION: "open",
    // Every soak client comes from 127.0.0.1: the per-IP sign-in budgets would refuse most of
    // the load. The global limits stay, generous, so an intended 429 is still possible.
    AUTH_LOGIN_PER_MINUTE: many,
    AUTH_REGISTER_PER_MINUTE: many,
    SENSITIVE_PER_MINUTE: many,
    RATE_LIMIT_PER_MINUTE: "6000",
    RATE_LIMIT_PER_HOUR: many,
  };
}

/** N instances behind nginx on a PostgreSQL and a Redis of their own (test/topology/); all stopped at the end. */
async function startTopologyTarget(instances: number): Promise<Target> {
  const { startTopology } = await import("../test/topology/topology.js");
  const webhookSecret = newWebhookSecret();
  const topology = await startTopology({
    instances,
    env: soakSettings(webhookSecret),
    log: (line) => console.log(`  topology: ${line}`),
  });
  return {
    url: topology.base,
    pids: topology.instances.map((i) => i.pid).filter((pid): pid is number => pid !== undefined),
    databaseUrl: topology.pg.url,
    webhookSecret,
    stop: () => topology.close(),
  };
}

/** One instance of `bulwark start` on a fresh PostgreSQL database and Redis; stopped (and the database dropped) at the end. */
async function startOwn(): Promise<Target> {
  const base = values["database-url"] ?? "postgres://postgres@127.0.0.1:5432/test";
  const name = `bulwark_soak_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-soak-"));
  const port = await freePort();
  const webhookSecret = newWebhookSecret();
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "start"], {
    env: {
      ...process.env,
      NODE_ENV: "development",
      HOST: "127.0.0.1",
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DATA_DIR: dataDir,
      DATABASE_URL: url.toString(),
      REDIS_URL: values["redis-url"],
      SECRET_KEY: randomBytes(32).toString("base64url"),
      ENCRYPTION_KEYS: `s1:${randomBytes(32).toString("base64")}`,
      METRICS_TOKEN: randomBytes(32).toString("base64url"),
      LOG_LEVEL: "warn",
      ...soakSettings(webhookSecret),
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const target = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`bulwark start exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${target}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 600) throw new Error("bulwark start did not become ready in 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: target,
    pids: [child.pid!],
    databaseUrl: url.toString(),
    webhookSecret,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dataDir, { recursive: true, force: true });
      const drop = new pg.Client({ connectionString: base });
      await drop.connect();
      await drop.query(`drop database if exists ${name} with (force)`);
      await drop.end();
    },
  };
}

// ---------------------------------------------------------------- the load

type User = {
  username: string;
  password: string;
  access: string;
  refresh: string;
  key?: string;
  conversation?: string;
};

type Sample = { at: number; ms: number; status: number; action: string };
const samples: Sample[] = [];
const errors = new Map<string, { count: number; example: string }>();
let intended429 = 0;

async function call(
  base: string,
  action: string,
  path: string,
  init: RequestInit & { expect?: number[] } = {},
): Promise<{ status: number; body: unknown }> {
  const started = performance.now();
  let status = 0;
  let body: unknown = null;
  try {
    const res = await fetch(`${base}${path}`, init);
    status = res.status;
    const text = await res.text();
    body = text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
  } catch (error) {
    body = String(error);
  }
  samples.push({ at: Date.now(), ms: performance.now() - started, status, action });
  const ok = (init.expect ?? [200, 201, 202, 204]).includes(status);
  if (status === 429) intended429++;
  else if (!ok) {
    const key = `${action} ${status}`;
    const seen = errors.get(key) ?? { count: 0, example: JSON.stringify(body).slice(0, 200) };
    seen.count++;
    errors.set(key, seen);
  }
  return { status, body };
}

const json = (token: string | null, body?: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: body === undefined ? "GET" : "POST",
  headers: {
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...(body === undefined ? {} : { "content-type": "application/json" }),
    ...headers,
  },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

async function signIn(base: string, user: User): Promise<void> {
  const res = await call(
    base,
    "sign-in",
    "/api/auth/login",
    json(null, { login: user.username, password: user.password }),
  );
  const pair = res.body as { access_token?: string; refresh_token?: string };
  if (pair.access_token) {
    user.access = pair.access_token;
    user.refresh = pair.refresh_token!;
  }
}

async function setUp(target: Target, count: number): Promise<User[]> {
  const users: User[] = [];
  const tag = randomBytes(3).toString("hex");
  for (let i = 0; i < count; i++) {
    const user: User = {
      username: `soak_${tag}_${i}`,
      password: `Soak ${randomBytes(9).toString("base64url")} load`,
      access: "",
      refresh: "",
    };
    const res = await call(
      target.url,
      "register",
      "/api/auth/register",
      json(null, { username: user.username, email: `${user.username}@example.com`, password: user.password }),
    );
    if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
    users.push(user);
  }
  // API keys need a proven address: the operator's shortcut is the database (no mail is read here).
  if (target.databaseUrl) {
    const db = new pg.Client({ connectionString: target.databaseUrl });
    await db.connect();
    await db.query(`update users set email_verified = true where username like $1`, [`soak_${tag}_%`]);
    await db.end();
  }
  const ids: string[] = [];
  for (const user of users) {
    await signIn(target.url, user);
    const me = await call(target.url, "read", "/api/users/me", json(user.access));
    ids.push((me.body as { user: { id: string } }).user.id);
    if (target.databaseUrl) {
      await call(target.url, "step-up", "/api/auth/step-up", json(user.access, { password: user.password }));
      const key = await call(
        target.url,
        "key",
        "/api/keys",
        json(user.access, { name: "soak", scopes: ["files:read"] }),
      );
      user.key = (key.body as { key?: string }).key;
    }
  }
  // Each user talks with the next one.
  for (const [i, user] of users.entries()) {
    const conv = await call(
      target.url,
      "conversation",
      "/api/conversations",
      json(user.access, { type: "direct", member_ids: [ids[(i + 1) % ids.length]] }),
    );
    user.conversation = (conv.body as { conversation?: { id?: string } }).conversation?.id;
  }
  return users;
}

function multipartPng(data: Buffer): { body: Buffer; type: string } {
  const boundary = `soak${randomBytes(8).toString("hex")}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="soak.png"\r\nContent-Type: image/png\r\n\r\n`;
  return {
    body: Buffer.concat([Buffer.from(head), data, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

/** One step of one worker: an action chosen by weight. */
async function step(target: Target, user: User, image: Buffer, webhook: Webhook | null): Promise<void> {
  const base = target.url;
  const r = Math.random() * 100;
  if (r < 4) return signIn(base, user);
  if (r < 12) {
    const res = await call(base, "refresh", "/api/auth/refresh", json(null, { refresh_token: user.refresh }));
    const pair = res.body as { access_token?: string; refresh_token?: string };
    if (pair.access_token) {
      user.access = pair.access_token;
      user.refresh = pair.refresh_token!;
    }
    return;
  }
  if (r < 40) {
    const paths = ["/api/users/me", "/api/sessions", "/api/conversations", "/api/whoami", "/api/keys"];
    await call(base, "read", paths[Math.floor(Math.random() * paths.length)]!, json(user.access));
    return;
  }
  if (r < 58 && user.key) {
    await call(base, "key-call", Math.random() < 0.5 ? "/api/files" : "/api/whoami", {
      headers: { "x-api-key": user.key },
    });
    return;
  }
  if (r < 80 && user.conversation) {
    await call(
      base,
      "message",
      `/api/conversations/${user.conversation}/messages`,
      json(user.access, { body: `soak ${Date.now()}` }),
    );
    await call(base, "read-messages", `/api/conversations/${user.conversation}/messages?limit=20`, json(user.access));
    return;
  }
  if (r < 88) {
    const form = multipartPng(image);
    const up = await call(base, "upload", "/api/files", {
      method: "POST",
      headers: { authorization: `Bearer ${user.access}`, "content-type": form.type },
      body: form.body,
    });
    const id = (up.body as { id?: string }).id;
    // Uploads are deleted again, or the quota would turn them into 413s.
    if (id)
      await call(base, "delete-file", `/api/files/${id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${user.access}` },
      });
    return;
  }
  if (webhook) {
    const id = `msg_${randomBytes(8).toString("hex")}`;
    const payload = JSON.stringify({ type: "soak.event", data: { n: Date.now() } });
    const now = new Date();
    await call(base, "webhook", "/api/webhooks/github", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
        "webhook-signature": webhook.sign(id, now, payload),
      },
      body: payload,
    });
    return;
  }
  await call(base, "read", "/api/users/me", json(user.access));
}

// ---------------------------------------------------------------- memory

type Rss = { at: number; pid: number; kib: number };
const rss: Rss[] = [];

function readRss(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function median(values: number[]): number {
  return percentile(values, 50);
}

// ---------------------------------------------------------------- the run

const target: Target = values.url
  ? {
      url: values.url.replace(/\/$/, ""),
      pids: [],
      databaseUrl: values["database-url"],
      webhookSecret: values["webhook-secret"],
      async stop() {},
    }
  : values.topology
    ? await startTopologyTarget(Number(values.topology))
    : await startOwn();
if (values.pids) target.pids = values.pids.split(",").map(Number);
console.log(
  `soak: ${target.url}, ${minutes} min (warm-up ${warmup} min), ${workers} workers, pids ${target.pids.join(",") || "none"}`,
);
let exitCode = 0;
try {
  const users = await setUp(target, Number(values.users));
  const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 10, g: 120, b: 200 } } })
    .png()
    .toBuffer();
  const webhook = target.webhookSecret ? new Webhook(target.webhookSecret) : null;
  const started = Date.now();
  const end = started + minutes * 60_000;
  const sampler = setInterval(
    () => {
      for (const pid of target.pids) {
        const kib = readRss(pid);
        if (kib !== null) rss.push({ at: Date.now(), pid, kib });
      }
    },
    Number(values["sample-seconds"]) * 1000,
  );
  let lastMinute = 0;
  const ticker = setInterval(() => {
    const minute = Math.floor((Date.now() - started) / 60_000);
    if (minute === lastMinute) return;
    lastMinute = minute;
    const last = samples.filter((s) => s.at >= Date.now() - 60_000);
    const mem = target.pids.map((pid) => `${pid}:${Math.round((readRss(pid) ?? 0) / 1024)}MiB`).join(" ");
    console.log(
      `  minute ${minute}: ${last.length} requests, p99 ${percentile(
        last.map((s) => s.ms),
        99,
      ).toFixed(0)} ms, errors ${[...errors.values()].reduce((a, e) => a + e.count, 0)}, rss ${mem}`,
    );
  }, 1000);
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (Date.now() < end) await step(target, users[w % users.length]!, image, webhook);
    }),
  );
  clearInterval(sampler);
  clearInterval(ticker);

  // Figures: per minute, RSS after warm-up, errors.
  const perMinute = [];
  for (let m = 0; m < Math.ceil(minutes); m++) {
    const inMinute = samples.filter((s) => s.at >= started + m * 60_000 && s.at < started + (m + 1) * 60_000);
    perMinute.push({
      minute: m + 1,
      requests: inMinute.length,
      p50_ms: Math.round(
        percentile(
          inMinute.map((s) => s.ms),
          50,
        ),
      ),
      p99_ms: Math.round(
        percentile(
          inMinute.map((s) => s.ms),
          99,
        ),
      ),
    });
  }
  const warmEnd = started + warmup * 60_000;
  const memory = target.pids.map((pid) => {
    const mine = rss.filter((r) => r.pid === pid);
    const after = mine.filter((r) => r.at >= warmEnd);
    // Medians of the first and the last minute after warm-up: one garbage collection does not decide.
    const first = median(after.filter((r) => r.at < warmEnd + 60_000).map((r) => r.kib));
    const last = median(after.filter((r) => r.at >= end - 60_000).map((r) => r.kib));
    return {
      pid,
      start_mib: Math.round((mine[0]?.kib ?? 0) / 1024),
      after_warmup_mib: Math.round(first / 1024),
      end_mib: Math.round(last / 1024),
      max_mib: Math.round(Math.max(0, ...mine.map((r) => r.kib)) / 1024),
      growth_pct: first ? Math.round(((last - first) / first) * 1000) / 10 : null,
    };
  });
  const byAction: Record<string, number> = {};
  for (const s of samples) byAction[s.action] = (byAction[s.action] ?? 0) + 1;
  const errorCount = [...errors.values()].reduce((a, e) => a + e.count, 0);
  const summary = {
    url: target.url,
    minutes,
    warmup_minutes: warmup,
    workers,
    requests: samples.length,
    by_action: byAction,
    intended_429: intended429,
    errors: errorCount,
    error_kinds: Object.fromEntries(errors),
    per_minute: perMinute,
    memory,
  };
  console.log(JSON.stringify(summary, null, 2));
  const grew = memory.some((m) => m.growth_pct !== null && m.growth_pct >= 10);
  if (errorCount > 0 || grew) exitCode = 1;
  console.log(
    `soak: ${samples.length} requests, ${errorCount} errors, ${intended429} 429s, RSS growth ${memory.map((m) => `${m.growth_pct}%`).join(", ") || "not sampled"}: ${exitCode === 0 ? "PASS" : "FAIL"}`,
  );
} finally {
  await target.stop();
}
process.exit(exitCode);
