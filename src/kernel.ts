// The runtime without HTTP: opens the shared ground (database, counters, pub/sub, mail), builds
// the kernel, creates every module in dependency order and starts them. `createApp` puts Fastify
// on top; CLI commands use it as it is, so they run the very services the server runs.
import { join } from "node:path";
import { secretValues, type Config } from "./config/load.js";
import { systemClock, type Clock } from "./core/clock.js";
import { createPasswordHasher, parseKeyring, type PasswordHasher } from "./core/crypto/index.js";
import { createLogger, type Logger } from "./core/logger.js";
import { startupMark } from "./core/startup.js";
import { createMetrics, type Metrics } from "./core/metrics.js";
import { createAuditService } from "./modules/audit/index.js";
import { MODULES } from "./modules/index.js";
import { createMailer, createMailRenderer, type Mailer } from "./modules/mail/index.js";
import {
  orderModules,
  type AnyModule,
  type Kernel,
  type ModuleName,
  type Revocation,
  type Services,
} from "./modules/module.js";
import { createCounters, type Counters } from "./store/counters.js";
import { openStore, type Store } from "./store/db.js";
import { migrate } from "./store/migrate.js";
import { createPubSub, type PubSub } from "./store/pubsub.js";

export type RuntimeDeps = {
  store?: Store;
  counters?: Counters;
  clock?: Clock;
  logger?: Logger;
  metrics?: Metrics;
  pubsub?: PubSub;
  hasher?: PasswordHasher;
  /** Mail delivery; by default SMTP_URL, or `.eml` files under DATA_DIR/outbox. Not closed by the app when given. */
  mailer?: Mailer;
  /** Apply pending migrations before serving (default true). */
  migrate?: boolean;
  /**
   * Run timers and workers (the outbound webhook worker, hourly pruning, periodic key reloads).
   * Default: yes, unless a clock was injected — with a test clock time moves only when told to, so
   * the test drives `webhooks.runDue()` itself. CLI commands run none.
   */
  background?: boolean;
  /** Whether the runtime answers requests (default true; CLI commands pass false). */
  serving?: boolean;
  /** Modules of the application's own, after Bulwark's (library use). */
  modules?: readonly AnyModule[];
};

/** A created module and its service. */
export type Created = { module: AnyModule; service: Services[ModuleName] };

export type Runtime = {
  kernel: Kernel;
  /** Every module, in start order, with its service. */
  created: readonly Created[];
  services: Readonly<Services>;
  /** A module's service by name. */
  use<M extends ModuleName>(name: M): Services[M];
  /** Deletes what has outlived its use, module by module; runs hourly by itself on a server. */
  prune(): Promise<Record<string, number>>;
  /** Stops the modules (reverse order), then closes what the runtime opened. */
  close(): Promise<void>;
};

const PRUNE_INTERVAL_MS = 3_600_000;

/** Opens the shared ground and creates every module; a start that fails half-way closes what it opened. */
export async function createRuntime(config: Config, deps: RuntimeDeps = {}): Promise<Runtime> {
  const opened: { close(): Promise<void> }[] = [];
  const created: Created[] = [];
  const stop = async () => {
    for (const { module, service } of [...created].reverse()) await module.stop?.(service);
    for (const resource of opened.reverse()) await resource.close();
  };
  try {
    const logger = deps.logger ?? createLogger({ level: config.logLevel, secrets: secretValues(config) });
    const clock = deps.clock ?? systemClock;
    const store =
      deps.store ??
      (await openStore({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        onError: (e) => logger.warn({ err: e.message }, "database connection lost; the pool reconnects"),
      }));
    if (!deps.store) opened.push(store);
    startupMark("database");
    if (deps.migrate !== false) await migrate(store);
    startupMark("migrations");
    const counters =
      deps.counters ??
      createCounters({
        clock,
        redisUrl: config.redisUrl,
        onError: (e) => logger.warn({ err: e.message }, "redis unavailable: rate limits hold per instance"),
      });
    if (!deps.counters) opened.push(counters);
    const pubsub =
      deps.pubsub ??
      createPubSub({
        redisUrl: config.redisUrl,
        onError: (e) => logger.warn({ err: e.message }, "redis pub/sub unavailable"),
      });
    if (!deps.pubsub) opened.push(pubsub);
    const audit = createAuditService({ db: store.db, clock });
    const mailer =
      deps.mailer ??
      createMailer({
        smtpUrl: config.mail.smtpUrl,
        from: config.mail.from,
        render: createMailRenderer({ appName: config.appName, templatesDir: config.mail.templatesDir }),
        outboxDir: join(config.dataDir, "outbox"),
        log: logger,
        audit,
      });
    // Mails in flight finish (briefly) before the database they audit into closes: closed after the store opened above.
    if (!deps.mailer) opened.push(mailer);

    /** Runs one revocation hook of every module that has it; keyed by module (`api_keys`, `sessions`). */
    const revokeAcross = async (run: (c: Created) => Promise<Revocation | undefined> | undefined) => {
      const results: Record<string, Revocation> = {};
      for (const c of created) {
        const revocation = await run(c);
        if (revocation) results[c.module.name.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)] = revocation;
      }
      return results;
    };
    const kernel: Kernel = {
      config,
      store,
      db: store.db,
      clock,
      logger,
      metrics: deps.metrics ?? createMetrics(),
      audit,
      pubsub,
      counters,
      keyring: parseKeyring(config.encryptionKeys),
      mailer,
      hasher: deps.hasher ?? createPasswordHasher(),
      background: deps.background ?? deps.clock === undefined,
      serving: deps.serving ?? true,
      // Hooks run at request time, once every module below has been created.
      readiness: async () =>
        Object.assign({}, ...(await Promise.all(created.map(({ module, service }) => module.ready?.(service) ?? {})))),
      credentials: {
        userDisabled: (tx, userId) =>
          revokeAcross(({ module, service }) => module.onUserDisabled?.(service, tx, userId)),
        revoked: (tx, userId, why) =>
          revokeAcross(({ module, service }) => module.onCredentialsRevoked?.(service, tx, userId, why)),
        adminRoleRemoved: (tx, userId, actor) =>
          revokeAcross(({ module, service }) => module.onAdminRoleRemoved?.(service, tx, userId, actor)),
      },
    };

    // Filled in dependency order: a module only ever `use`s one created before it.
    const services = {} as Services;
    const use = <M extends ModuleName>(name: M): Services[M] => services[name];
    for (const module of orderModules([...MODULES, ...(deps.modules ?? [])])) {
      if (module.auditEvents) audit.define(module.auditEvents);
      const service = await module.create(kernel, use);
      Object.assign(services, { [module.name]: service });
      created.push({ module, service });
    }
    for (const { module, service } of created) await module.start?.(service, kernel);
    startupMark("modules");

    // Deletes are idempotent, so several instances pruning at once only repeat each other's work.
    const prune = async () => {
      const report: Record<string, number> = {};
      for (const { module, service } of created) Object.assign(report, await module.prune?.(service));
      return report;
    };
    if (kernel.background) {
      const timer = setInterval(() => {
        prune().catch((error: unknown) =>
          logger.warn({ err: (error as Error).message }, "pruning failed; retried within the hour"),
        );
      }, PRUNE_INTERVAL_MS).unref();
      opened.push({ close: async () => clearInterval(timer) });
    }
    return { kernel, created, services, use, prune, close: stop };
  } catch (error) {
    // A start that fails half-way must not leave connections (and reconnect timers) behind.
    await stop().catch(() => undefined);
    throw error;
  }
}
