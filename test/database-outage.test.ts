// Threat: a PostgreSQL restart or a killed backend takes Bulwark down (an unhandled 'error' event from
// a pg client), answers 500s instead of 503s, or loses a registration it acknowledged.
// Each test runs its own PostgreSQL (own data directory and port) and Bulwark in a child process, so
// a crash shows as an exit; the shared PostgreSQL and Redis are never touched.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { randomToken } from "../src/core/crypto/index.js";
import { testSecrets } from "./harness.js";
import { goodPassword } from "./identity.js";
import { freePort, postgresBinaries, startPrivatePostgres, type PrivatePostgres } from "./private-postgres.js";

const binaries = postgresBinaries();
const skip = "skip" in binaries ? binaries.skip : false;
if (skip) process.stderr.write(`database-outage tests skipped: ${skip}\n`);

/** Every wait in these tests ends: a hang fails the test instead of blocking the suite. */
const WAIT_MS = 60_000;

type Bulwark = {
  readonly base: string;
  readonly child: ChildProcess;
  /** Why the process ended, if it did. */
  exited(): string | null;
  output(): string;
  stop(): Promise<void>;
};

/** Runs `bulwark start` in a child process on the given database, and waits until it is ready. */
async function startBulwark(databaseUrl: string): Promise<Bulwark> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-outage-"));
  const env = {
    PATH: process.env.PATH ?? "",
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "warn",
    RATE_LIMIT_PER_MINUTE: "1000000",
    RATE_LIMIT_PER_HOUR: "10000000",
    AUTH_REGISTER_PER_MINUTE: "1000000",
    AUTH_LOGIN_PER_MINUTE: "1000000",
    ...(testSecrets() as Record<string, string>),
  };
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "start"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let ended: string | null = null;
  child.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  child.on("exit", (code, signal) => {
    ended = `exited with code ${code} signal ${signal}`;
  });
  const base = `http://127.0.0.1:${port}`;
  const bulwark: Bulwark = {
    base,
    child,
    exited: () => ended,
    output: () => output,
    async stop() {
      if (process.env.DEBUG_OUTAGE_LOG)
        (await import("node:fs")).appendFileSync(process.env.DEBUG_OUTAGE_LOG, `--- ${base}\n${output}`);
      if (ended === null) {
        const gone = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await Promise.race([gone, sleep(15_000)]);
        if (ended === null) child.kill("SIGKILL");
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await until(async () => (await ready(base)) === 200, "Bulwark to become ready", bulwark);
  return bulwark;
}

async function ready(base: string): Promise<number | null> {
  try {
    const res = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

/** Polls `condition` until it holds; fails after WAIT_MS, or at once if Bulwark exits. */
async function until(condition: () => boolean | Promise<boolean>, what: string, bulwark?: Bulwark): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (bulwark?.exited())
      assert.fail(`Bulwark ${bulwark.exited()} while waiting for ${what}:\n${bulwark.output().slice(-4000)}`);
    if (await condition()) return;
    if (Date.now() > deadline)
      assert.fail(`gave up waiting for ${what}${bulwark ? `:\n${bulwark.output().slice(-4000)}` : ""}`);
    await sleep(50);
  }
}

/** Registrations and authenticated reads in a loop, every answer checked against the policy. */
function startLoad(base: string, access: string, workers = { register: 3, read: 3 }) {
  const acknowledged: string[] = [];
  const violations: string[] = [];
  const counts = { registered: 0, read: 0, unavailable: 0 };
  let running = true;

  // An answer is a success, a refusal by policy (429), or the 503 envelope with Retry-After.
  const check = async (what: string, res: Response, ok: number): Promise<boolean> => {
    const text = await res.text();
    if (res.status === ok || res.status === 429) return res.status === ok;
    if (res.status === 503) {
      let code: unknown;
      try {
        code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
      } catch {
        code = undefined;
      }
      if (code === "service_unavailable" && res.headers.get("retry-after")) {
        counts.unavailable++;
        return false;
      }
    }
    violations.push(`${what}: ${res.status} ${text.slice(0, 300)}`);
    return false;
  };
  const call = async (what: string, url: string, init: RequestInit, ok: number): Promise<boolean> => {
    try {
      return await check(what, await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) }), ok);
    } catch (error) {
      violations.push(`${what}: no answer (${(error as Error).message})`);
      return false;
    }
  };
  const registerLoop = async () => {
    while (running) {
      const username = `u_${randomToken(9).replace(/[^A-Za-z0-9]/g, "x")}`;
      const body = JSON.stringify({
        username,
        email: `${username.toLowerCase()}@example.com`,
        password: goodPassword(),
      });
      if (
        await call(
          "POST /api/auth/register",
          `${base}/api/auth/register`,
          { method: "POST", headers: { "content-type": "application/json" }, body },
          201,
        )
      ) {
        acknowledged.push(username);
        counts.registered++;
      }
    }
  };
  const readLoop = async () => {
    while (running) {
      if (
        await call("GET /api/users/me", `${base}/api/users/me`, { headers: { authorization: `Bearer ${access}` } }, 200)
      )
        counts.read++;
    }
  };
  const loops = [
    ...Array.from({ length: workers.register }, registerLoop),
    ...Array.from({ length: workers.read }, readLoop),
  ];
  return {
    acknowledged,
    violations,
    counts,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Registers and signs in the reader the load uses. */
async function signIn(base: string): Promise<string> {
  const username = `reader_${randomToken(6).replace(/[^A-Za-z0-9]/g, "x")}`;
  const password = goodPassword();
  const reg = await fetch(`${base}/api/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, email: `${username.toLowerCase()}@example.com`, password }),
  });
  assert.equal(reg.status, 201, await reg.text());
  const res = await fetch(`${base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ login: username, password }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Every acknowledged registration is in the database. */
async function assertNothingLost(pg: PrivatePostgres, acknowledged: string[]): Promise<void> {
  const rows = await pg.query<{ username: string }>("select username from users where username = any($1)", [
    acknowledged,
  ]);
  const stored = new Set(rows.map((r) => r.username));
  const lost = acknowledged.filter((u) => !stored.has(u));
  assert.deepEqual(
    lost,
    [],
    `${lost.length} of ${acknowledged.length} registrations answered 201 are not in the database`,
  );
}

/** Waits for `n` more successes of each kind: the service works again without a restart. */
async function assertRecovers(load: ReturnType<typeof startLoad>, bulwark: Bulwark, n = 10): Promise<void> {
  const { registered, read } = load.counts;
  await until(
    () => load.counts.registered >= registered + n && load.counts.read >= read + n,
    "requests to succeed again",
    bulwark,
  );
}

/** Log lines must not carry SQL parameters: registrations hold password hashes and email addresses. */
function assertNoParamsLogged(bulwark: Bulwark): void {
  const leaks = bulwark
    .output()
    .split("\n")
    .filter((line) => /params: (?!\[redacted\])|\$argon2|@example\.com/.test(line));
  assert.deepEqual(leaks, [], "a log line carries SQL parameters");
}

/** A private PostgreSQL and Bulwark on it for one test, both gone afterwards whatever happens. */
async function withRig(run: (pg: PrivatePostgres, bulwark: Bulwark) => Promise<void>): Promise<void> {
  const pg = await startPrivatePostgres((binaries as { bin: string }).bin);
  let bulwark: Bulwark | undefined;
  try {
    bulwark = await startBulwark(pg.url);
    await run(pg, bulwark);
  } finally {
    await bulwark?.stop();
    pg.destroy();
  }
}

describe("database outage", { skip }, () => {
  test("a PostgreSQL restart under load: 503s while down, no crash, nothing acknowledged lost, recovery without a restart", () =>
    withRig(async (pg, bulwark) => {
      const access = await signIn(bulwark.base);
      const load = startLoad(bulwark.base, access);
      try {
        await until(() => load.counts.registered >= 10 && load.counts.read >= 10, "load to run", bulwark);
        pg.stop();
        await until(
          async () => (await ready(bulwark.base)) === 503,
          "/ready to answer 503 while PostgreSQL is down",
          bulwark,
        );
        // Down for a while: requests keep arriving and must be answered 503, not 500.
        const unavailable = load.counts.unavailable;
        await until(
          () => load.counts.unavailable >= unavailable + 20,
          "requests during the outage to answer 503",
          bulwark,
        );
        await sleep(2_000);
        pg.start();
        await until(async () => (await ready(bulwark.base)) === 200, "/ready to answer 200 again", bulwark);
        await assertRecovers(load, bulwark);
      } finally {
        await load.stop();
      }
      assert.equal(bulwark.exited(), null, `Bulwark died:\n${bulwark.output().slice(-4000)}`);
      assert.deepEqual(load.violations.slice(0, 20), [], `${load.violations.length} answers broke the policy`);
      assert.ok(load.counts.unavailable > 0, "the outage was seen as 503s");
      await assertNothingLost(pg, load.acknowledged);
      assertNoParamsLogged(bulwark);
    }));

  test("backends terminated mid-transaction under load: no crash, answers by policy, recovery", () =>
    withRig(async (pg, bulwark) => {
      const access = await signIn(bulwark.base);
      const load = startLoad(bulwark.base, access, { register: 4, read: 2 });
      let terminated = 0;
      let inTransaction = 0;
      try {
        for (let round = 0; round < 5; round++) {
          await assertRecovers(load, bulwark, 5);
          // Catch backends with a transaction open when we can; terminate every backend of Bulwark's.
          for (let poll = 0; poll < 200; poll++) {
            const open = await pg.query<{ n: number }>(
              "select count(*)::int as n from pg_stat_activity where datname = 'bulwark' and pid <> pg_backend_pid() and xact_start is not null",
            );
            if (open[0]!.n > 0) break;
          }
          const killed = await pg.query<{ pid: number; open: boolean }>(
            "select pid, xact_start is not null as open, pg_terminate_backend(pid) from pg_stat_activity where datname = 'bulwark' and pid <> pg_backend_pid() and backend_type = 'client backend'",
          );
          terminated += killed.length;
          inTransaction += killed.filter((k) => k.open).length;
        }
        await assertRecovers(load, bulwark);
      } finally {
        await load.stop();
      }
      assert.equal(bulwark.exited(), null, `Bulwark died:\n${bulwark.output().slice(-4000)}`);
      assert.ok(terminated > 0, "backends were terminated");
      process.stderr.write(
        `terminated ${terminated} backends, ${inTransaction} with a transaction open; ${load.counts.unavailable} answers were 503\n`,
      );
      assert.deepEqual(load.violations.slice(0, 20), [], `${load.violations.length} answers broke the policy`);
      await assertNothingLost(pg, load.acknowledged);
      assertNoParamsLogged(bulwark);
    }));
});
