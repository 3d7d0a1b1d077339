// The test harness: a real app on a real database. PGlite in memory by default; a fresh PostgreSQL
// database when TEST_DATABASE_URL is set; Redis counters (under a unique prefix) when TEST_REDIS_URL is.
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import { createApp, type AppDeps } from "../src/app.js";
import { loadConfig, secretValues, type Config, type Env } from "../src/config/load.js";
import { createFakeClock } from "../src/core/clock.js";
import { generateKeyringEntry, randomToken } from "../src/core/crypto/index.js";
import { createLogger } from "../src/core/logger.js";
import { createCounters, type Counters } from "../src/store/counters.js";
import { openStore, type Store } from "../src/store/db.js";
import { migrate, MIGRATIONS_FOLDER } from "../src/store/migrate.js";
import { sha256Hex, type PasswordHasher } from "../src/core/crypto/index.js";
import { createPubSub, type PubSub } from "../src/store/pubsub.js";
import type { FastifyInstance } from "fastify";
import type { Mailer } from "../src/modules/mail/index.js";
import { createAuditService, type AuditService } from "../src/modules/audit/index.js";
import { MODULES } from "../src/modules/index.js";
import type { Clock } from "../src/core/clock.js";
import type { Database } from "../src/store/db.js";

/** Event types the tests record directly (the vocabulary refuses undeclared ones). */
export const TEST_EVENTS = {
  "load.test": { description: "test" },
  "test.shapes": { description: "test" },
  "test.big": { description: "test" },
  "thing.create": { description: "test" },
  "note.create": { description: "test" },
} as const;

declare module "../src/modules/audit/vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof TEST_EVENTS, true> {}
}

/** An audit service over a test database that knows every module's event types and the tests' own. */
export function testAudit(db: Database, clock: Clock): AuditService {
  const audit = createAuditService({ db, clock });
  for (const module of MODULES) if (module.auditEvents) audit.define(module.auditEvents);
  audit.define(TEST_EVENTS);
  return audit;
}

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
/** Set by CI (`.ci/run`): PostgreSQL and Redis must be there, and no test may skip for want of them. */
export const TEST_REQUIRE_SERVICES = process.env.TEST_REQUIRE_SERVICES === "1";

/**
 * The `skip` option of a test that needs real services: false when they are configured, else the
 * reason. When TEST_REQUIRE_SERVICES=1 a missing one is an error, so a CI run cannot pass by
 * quietly skipping the several-instance tests.
 */
export function needs(...services: ("postgres" | "redis")[]): false | string {
  const missing = services
    .filter((s) => (s === "postgres" ? !TEST_DATABASE_URL : !TEST_REDIS_URL))
    .map((s) => (s === "postgres" ? "TEST_DATABASE_URL" : "TEST_REDIS_URL"));
  if (missing.length === 0) return false;
  if (TEST_REQUIRE_SERVICES)
    throw new Error(
      `TEST_REQUIRE_SERVICES=1 but ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set`,
    );
  return `needs ${missing.join(" and ")}`;
}

/** Fresh strong secrets for one test: tests never share or commit secrets. */
export function testSecrets(): Env {
  return { SECRET_KEY: randomToken(32), ENCRYPTION_KEYS: generateKeyringEntry("t1"), METRICS_TOKEN: randomToken(32) };
}

/** A production configuration that passes every rule, in a throwaway DATA_DIR; tests break one thing each. */
export function productionEnv(): Env {
  return {
    NODE_ENV: "production",
    DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-prod-")),
    PUBLIC_URL: "https://api.example.com",
    CORS_ORIGINS: "https://app.example.com",
    SECRET_KEY: randomToken(32),
    ENCRYPTION_KEYS: `${generateKeyringEntry("k2")},${generateKeyringEntry("k1")}`,
    METRICS_TOKEN: randomToken(32),
    SMTP_URL: "smtps://bulwark@smtp.example.com:465",
    LOG_LEVEL: "silent",
    REGISTRATION: "open",
  };
}

/** A development configuration with generated secrets and a throwaway DATA_DIR; `env` overrides. */
export function testConfig(env: Env = {}): Config {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-test-"));
  process.once("exit", () => rmSync(dataDir, { recursive: true, force: true }));
  return loadConfig(
    { DATA_DIR: dataDir, LOG_LEVEL: "silent", ...testSecrets(), ...env },
    { generateDevSecrets: false },
  );
}

/** A migrated database of its own: in-memory PGlite, or a new PostgreSQL database dropped on close. */
export async function testStore(options: { kind?: "pglite" | "postgres"; migrate?: boolean } = {}): Promise<Store> {
  const kind = options.kind ?? (TEST_DATABASE_URL ? "postgres" : "pglite");
  let store: Store;
  if (kind === "pglite") {
    store = await openStore({ template: await pgliteTemplate(options.migrate !== false) });
  } else {
    if (!TEST_DATABASE_URL) throw new Error("TEST_DATABASE_URL is not set");
    const name = `bulwark_test_${randomToken(6)
      .toLowerCase()
      .replace(/[^a-z0-9]/g, "x")}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${name}`;
    const inner = await openStore({ databaseUrl: url.toString() });
    store = {
      ...inner,
      async close() {
        await inner.close();
        const drop = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await drop.connect();
        await drop.query(`drop database if exists ${name} with (force)`);
        await drop.end();
      },
    };
    Object.defineProperty(store, "url", { value: url.toString() });
  }
  if (options.migrate !== false) await migrate(store);
  return store;
}

/**
 * A dumped PGlite cluster (empty, or migrated), cached in the temp directory under a hash of the
 * migrations: PGlite's initdb costs seconds, loading a dump about one, so each test database is cheap.
 */
export async function pgliteTemplate(migrated: boolean): Promise<Blob> {
  const files = readdirSync(MIGRATIONS_FOLDER, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => join(f.parentPath, f.name))
    .sort();
  const hash = sha256Hex(files.map((f) => `${f}\n${readFileSync(f, "utf8")}`).join("\n")).slice(0, 16);
  const file = join(tmpdir(), `bulwark-pglite-${migrated ? "migrated" : "empty"}-${hash}.tar.gz`);
  if (!existsSync(file)) {
    const store = await openStore({});
    if (migrated) await migrate(store);
    const { client } = store.driver as { kind: "pglite"; client: import("@electric-sql/pglite").PGlite };
    const dump = await client.dumpDataDir("gzip");
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, file);
    await store.close();
  }
  return new Blob([readFileSync(file)]);
}

/**
 * A database a CLI command reaches through DATABASE_URL / DATA_DIR (the returned `env`), and a way
 * to open it between commands: a fresh PostgreSQL database, or PGlite under a temporary DATA_DIR
 * (one process at a time, so each step opens and closes it).
 */
export async function cliDatabase(): Promise<{
  env: Record<string, string>;
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}> {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-cli-"));
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    LOG_LEVEL: "silent",
    ...(testSecrets() as Record<string, string>),
  };
  if (TEST_DATABASE_URL) {
    const store = await testStore({ kind: "postgres" });
    const url = storeUrl(store)!;
    env.DATABASE_URL = url;
    return {
      env,
      open: () => openStore({ databaseUrl: url }),
      async cleanup() {
        await store.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  return {
    env,
    open: async () => {
      const store = await openStore({ dataDir });
      await migrate(store);
      return store;
    },
    async cleanup() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The URL of a PostgreSQL test store (for a second instance on the same database). */
export function storeUrl(store: Store): string | undefined {
  return (store as Store & { url?: string }).url;
}

/** Counters for a test: Redis under a unique prefix when TEST_REDIS_URL is set (or `prefix` to share), memory otherwise. */
export function testCounters(
  clock: { now(): number },
  options: { kind?: "memory" | "redis"; prefix?: string } = {},
): Counters {
  const kind = options.kind ?? (TEST_REDIS_URL ? "redis" : "memory");
  return createCounters({
    clock,
    redisUrl: kind === "redis" ? TEST_REDIS_URL : undefined,
    prefix: options.prefix ?? `bwtest:${randomToken(6)}`,
  });
}

/** Pub/sub for a test: Redis under the given prefix (shared by the instances of one test) when TEST_REDIS_URL is set, memory otherwise. */
export function testPubSub(prefix: string): PubSub {
  return createPubSub({ redisUrl: TEST_REDIS_URL, prefix });
}

/**
 * A log destination that keeps every line, to assert what was (not) logged. `waitFor` resolves when a
 * line matching the pattern has been written (at once if one was): a test that checks what is *not*
 * in the log first waits for the lines it inspects, instead of sleeping and hoping they arrived.
 */
export function captureLog(): {
  stream: Writable;
  lines: string[];
  text(): string;
  waitFor(pattern: RegExp): Promise<string>;
} {
  const lines: string[] = [];
  const waiting: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      const added = chunk.toString("utf8").split("\n").filter(Boolean);
      lines.push(...added);
      for (const line of added) {
        for (const w of waiting.filter((x) => x.pattern.test(line))) {
          waiting.splice(waiting.indexOf(w), 1);
          w.resolve(line);
        }
      }
      done();
    },
  });
  const waitFor = (pattern: RegExp): Promise<string> => {
    const found = lines.find((line) => pattern.test(line));
    return found !== undefined ? Promise.resolve(found) : new Promise((resolve) => waiting.push({ pattern, resolve }));
  };
  return { stream, lines, text: () => lines.join("\n"), waitFor };
}

export type TestApp = {
  app: FastifyInstance;
  config: Config;
  store: Store;
  counters: Counters;
  clock: ReturnType<typeof createFakeClock>;
  close(): Promise<void>;
};

export type TestAppOptions = {
  env?: Env;
  store?: Store;
  counters?: Counters;
  clock?: ReturnType<typeof createFakeClock>;
  log?: Writable;
  logLevel?: string;
  hasher?: PasswordHasher;
  pubsub?: PubSub;
  /** A mailer of the test's own (closed by the test); by default the app's, from SMTP_URL or the outbox. */
  mailer?: Mailer;
  /** Routes to add before `ready()`, as a library user would. */
  extend?: (app: FastifyInstance) => void | Promise<void>;
};

/** Starts a real app (not listening; use `app.inject`, or `app.listen` for a socket) on a real database. */
export async function startApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig(options.env);
  const clock = options.clock ?? createFakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  const ownStore = !options.store;
  const store = options.store ?? (await testStore());
  const ownCounters = !options.counters;
  const counters = options.counters ?? testCounters(clock);
  const deps: AppDeps = { store, counters, clock, migrate: false };
  if (options.hasher) deps.hasher = options.hasher;
  if (options.mailer) deps.mailer = options.mailer;
  const ownPubSub = !options.pubsub;
  deps.pubsub = options.pubsub ?? testPubSub(`bwtest:${randomToken(6)}`);
  if (options.log)
    deps.logger = createLogger({
      level: options.logLevel ?? "info",
      secrets: secretValues(config),
      destination: options.log,
    });
  let app: FastifyInstance;
  try {
    app = await createApp(config, deps);
    app.bulwark.audit.define(TEST_EVENTS);
    await options.extend?.(app);
    await app.ready();
  } catch (error) {
    if (ownPubSub) await deps.pubsub.close();
    if (ownCounters) await counters.close();
    if (ownStore) await store.close();
    throw error;
  }
  return {
    app,
    config,
    store,
    counters,
    clock,
    async close() {
      await app.close();
      if (ownPubSub) await deps.pubsub!.close();
      if (ownCounters) await counters.close();
      if (ownStore) await store.close();
    },
  };
}

export type Deployment = {
  /** The instances, each listening on its own port of 127.0.0.1. */
  instances: TestApp[];
  /** The URL of `path` on an instance. */
  url(instance: TestApp, path: string): string;
  /** The Redis key and channel prefix the instances share (their subscribers are named `<prefix>:sub`). */
  prefix: string;
  close(): Promise<void>;
};

/**
 * Instances of one deployment behind a load balancer: one PostgreSQL database, one Redis for
 * counters and pub/sub, the same secrets, and real sockets. Needs TEST_DATABASE_URL and TEST_REDIS_URL.
 */
export async function startDeployment(
  count: number,
  options: { clock: ReturnType<typeof createFakeClock>; env?: Env },
): Promise<Deployment> {
  const store = await testStore({ kind: "postgres" });
  const prefix = `bwtest:${randomToken(6)}`;
  // Shared SECRET_KEY and keyring, as a deployment has: what one instance signs, the others verify.
  const env = { ...testSecrets(), ...options.env };
  const resources: { close(): Promise<void> }[] = [];
  const instances: TestApp[] = [];
  const close = async () => {
    for (const instance of instances) await instance.close();
    for (const resource of resources) await resource.close();
    await store.close();
  };
  try {
    for (let i = 0; i < count; i++) {
      const pubsub = testPubSub(prefix);
      const counters = testCounters(options.clock, { kind: "redis", prefix });
      resources.push(pubsub, counters);
      const instance = await startApp({ store, clock: options.clock, env, pubsub, counters });
      instances.push(instance);
      await instance.app.listen({ host: "127.0.0.1", port: 0 });
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    instances,
    url: (instance, path) => `http://127.0.0.1:${(instance.app.server.address() as { port: number }).port}${path}`,
    prefix,
    close,
  };
}
