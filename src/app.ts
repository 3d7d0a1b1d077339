// createApp: the hardened Fastify instance. Every cross-cutting protection is registered here, once,
// before any module: request id, security headers, CORS, body limit, JSON-only parsing, strict
// schemas, authentication, rate limits, error envelope, logging and metrics. It never listens.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { secretValues, type Config } from "./config/load.js";
import { systemClock, type Clock } from "./core/clock.js";
import { AppError } from "./core/errors.js";
import { createLogger, type Logger } from "./core/logger.js";
import { createMetrics, type Metrics } from "./core/metrics.js";
import { authenticateHook, authorizeHook, type AuthResolver } from "./http/auth.js";
import { trustProxyOption } from "./http/client-ip.js";
import { corsHook } from "./http/cors.js";
import { describeError, outageReporter, sendError } from "./http/errors.js";
import { requestId, securityHeaders } from "./http/headers.js";
import { observeHook } from "./http/observe.js";
import { rateLimitHook } from "./http/rate-limit.js";
import { assertClosedSchemas, validatorCompiler } from "./http/validation.js";
import "./http/types.js";
import { auditPlugin, createAuditService, requestActor, type AuditService } from "./modules/audit/index.js";
import { observabilityPlugin } from "./modules/observability/index.js";
import { publicConfigPlugin } from "./modules/public-config/index.js";
import { createPasswordHasher, parseKeyring, type PasswordHasher } from "./core/crypto/index.js";
import { accountsPlugin, createAccountService, type AccountService } from "./modules/accounts/index.js";
import { apiKeyResolver, apiKeysPlugin, createApiKeyService, type ApiKeyService } from "./modules/api-keys/index.js";
import { createExternalIdentityService, externalResolver, type ExternalIdentityService } from "./modules/external-identity/index.js";
import { createCookieJar, createSessionService, sessionResolver, sessionsPlugin, type SessionService } from "./modules/sessions/index.js";
import { createTokenService, tokensPlugin, type TokenService } from "./modules/tokens/index.js";
import { createMailer, type Mailer } from "./modules/mail/index.js";
import { createMfaService, mfaPlugin, type MfaService } from "./modules/mfa/index.js";
import { join } from "node:path";
import { createWebhookService, webhooksPlugin, type WebhookService } from "./modules/webhooks/index.js";
import { createCounters, type Counters } from "./store/counters.js";
import { createPubSub, type PubSub } from "./store/pubsub.js";
import { openStore, type Store } from "./store/db.js";
import { migrate } from "./store/migrate.js";

export type AppDeps = {
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
   * Run the outbound webhook worker on a timer (default: yes, unless a clock was injected — with a
   * test clock time moves only when told to, so the test drives `webhooks.runDue()` itself).
   */
  webhookWorker?: boolean;
};

/** What modules and library code reach through `app.bulwark`. */
export type Bulwark = {
  readonly config: Config;
  readonly store: Store;
  readonly counters: Counters;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly audit: AuditService;
  readonly pubsub: PubSub;
  readonly tokens: TokenService;
  readonly sessions: SessionService;
  readonly accounts: AccountService;
  readonly apiKeys: ApiKeyService;
  /** The outside identity provider, when EXTERNAL_JWT_SECRET or EXTERNAL_JWKS_URL is set. */
  readonly external: ExternalIdentityService | undefined;
  readonly mfa: MfaService;
  readonly mailer: Mailer;
  /** Inbound webhook handlers (`onWebhook`), outbound endpoints and the delivery worker (`runDue`). */
  readonly webhooks: WebhookService;
  /** Adds a credential resolver (sessions, API keys, outside tokens); tried in registration order. */
  addAuthResolver(resolver: AuthResolver): void;
  /** Deletes what has outlived its use (ended sessions, stale login counters); runs hourly by itself. */
  prune(): Promise<PruneReport>;
};

export type PruneReport = { sessions: number; login_failures: number };

/** Ended sessions are kept this long for the user's and the investigator's view, then deleted. */
const SESSION_RETENTION_MS = 30 * 24 * 3_600_000;
const PRUNE_INTERVAL_MS = 3_600_000;

declare module "fastify" {
  interface FastifyInstance {
    bulwark: Bulwark;
  }
}

/** Builds the app on the given configuration; resources it opened are closed by `app.close()`. */
export async function createApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const opened: { close(): Promise<void> }[] = [];
  try {
    return await buildApp(config, deps, opened);
  } catch (error) {
    // A start that fails half-way must not leave connections (and reconnect timers) behind.
    for (const resource of opened.reverse()) await resource.close().catch(() => undefined);
    throw error;
  }
}

async function buildApp(config: Config, deps: AppDeps, opened: { close(): Promise<void> }[]): Promise<FastifyInstance> {
  const logger = deps.logger ?? createLogger({ level: config.logLevel, secrets: secretValues(config) });
  const clock = deps.clock ?? systemClock;
  const metrics = deps.metrics ?? createMetrics();
  const store = deps.store ?? (await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, onError: (e) => logger.warn({ err: e.message }, "database connection lost; the pool reconnects") }));
  if (!deps.store) opened.push(store);
  if (deps.migrate !== false) await migrate(store);
  const counters = deps.counters ?? createCounters({ clock, redisUrl: config.redisUrl, onError: (e) => logger.warn({ err: e.message }, "redis unavailable: rate limits hold per instance") });
  if (!deps.counters) opened.push(counters);
  const audit = createAuditService({ db: store.db, clock });
  const pubsub = deps.pubsub ?? createPubSub({ redisUrl: config.redisUrl, onError: (e) => logger.warn({ err: e.message }, "redis pub/sub unavailable") });
  if (!deps.pubsub) opened.push(pubsub);
  const keyring = parseKeyring(config.encryptionKeys);
  const mailer = deps.mailer ?? createMailer({ smtpUrl: config.mail.smtpUrl, from: config.mail.from, outboxDir: join(config.dataDir, "outbox"), log: logger, audit });
  if (!deps.mailer) opened.push(mailer);
  const tokens = createTokenService({
    db: store.db, keyring, clock, pubsub,
    publicUrl: config.publicUrl, accessTokenTtl: config.accessTokenTtl,
    onFailure: (reason) => metrics.authFailures.inc({ reason: `token_${reason}` }),
    onError: (e) => logger.warn({ err: e.message }, "signing keys: background reload failed"),
  });
  await tokens.init();
  let accounts: AccountService | undefined;
  const sessions = createSessionService({
    db: store.db, clock, audit, pubsub, tokens, secretKey: config.secretKey,
    refreshTokenTtl: config.refreshTokenTtl, accessTokenTtl: config.accessTokenTtl,
    users: (id) => accounts!.sessionUser(id),
    onError: (e) => logger.warn({ err: e.message }, "session revocations: notification or reload failed"),
  });
  const apiKeys = createApiKeyService({
    db: store.db, clock, audit, pubsub, metrics, secretKey: config.secretKey,
    users: (id) => accounts!.sessionUser(id),
    onError: (e) => logger.warn({ err: e.message }, "api keys: notification or reload failed"),
  });
  let mfa: MfaService | undefined;
  accounts = createAccountService({
    db: store.db, clock, audit, pubsub, sessions, metrics, mailer, counters,
    // Disabling an account revokes its API keys in the same transaction as its sessions.
    credentials: [{ kind: "api_keys", revokeUserIn: apiKeys.revokeUserIn, announce: apiKeys.announce }],
    hasher: deps.hasher ?? createPasswordHasher(),
    config: { secretKey: config.secretKey, lockoutThreshold: config.lockoutThreshold, password: config.password, publicUrl: config.publicUrl, adminEmails: config.adminEmails },
    secondFactor: () => mfa,
  });
  const accountsRef = accounts;
  mfa = createMfaService({
    db: store.db, clock, audit, keyring, config: { secretKey: config.secretKey, publicUrl: config.publicUrl },
    accounts: {
      verifyPassword: (userId, password, field) => accountsRef.verifyPassword(userId, password, field),
      completeMfaLogin: (userId, options, meta) => accountsRef.completeMfaLogin(userId, options, meta),
      setMfaEnabled: (tx, userId, enabled) => accountsRef.setMfaEnabled(tx, userId, enabled),
      forget: (userId) => accountsRef.forget(userId),
      notify: (userId, template) => accountsRef.notify(userId, template),
      me: (userId) => accountsRef.me(userId),
    },
  });
  await sessions.init();
  await accounts.init();
  await apiKeys.init();
  const external = config.external ? createExternalIdentityService({
    db: store.db, clock, audit, metrics, config: config.external, adminEmails: config.adminEmails, ownIssuer: config.publicUrl,
    users: (id) => accounts!.sessionUser(id),
    onError: (e) => logger.warn({ err: e.message }, "external identity: JWKS fetch failed"),
  }) : undefined;
  const webhooks = createWebhookService({
    db: store.db, clock, audit, pubsub, keyring, config: { ...config.webhooks, production: config.production }, registry: metrics.registry,
    onError: (e, what) => logger.warn({ err: e instanceof Error ? e.message : String(e) }, what),
  });
  const jar = createCookieJar({ publicUrl: config.publicUrl, allowedOrigins: config.corsOrigins, accessTokenTtl: config.accessTokenTtl, refreshTokenTtl: config.refreshTokenTtl });

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request is logged by observeHook; Fastify's two default lines carry the raw URL.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: config.maxBodyBytes,
    // Requests arriving while closing get our 503 envelope (below), not Fastify's bare body.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 200 },
    // Errors raised before routing (a malformed URL) still get headers and the envelope.
    frameworkErrors: (error, req, reply) => {
      reply.headers(headers);
      reply.header("x-request-id", req.id);
      sendError(req, reply, error);
    },
  });

  const headers = securityHeaders(config.production);
  const resolvers: AuthResolver[] = [];
  // Deletes are idempotent, so several instances pruning at once only repeat each other's work.
  const prune = async (): Promise<PruneReport> => ({
    sessions: await sessions.prune(SESSION_RETENTION_MS),
    login_failures: await accounts.pruneLoginFailures(),
  });
  const pruneTimer = setInterval(() => {
    prune().catch((error: unknown) => logger.warn({ err: (error as Error).message }, "pruning failed; retried within the hour"));
  }, PRUNE_INTERVAL_MS).unref();
  app.decorate("bulwark", {
    config, store, counters, clock, metrics, audit, pubsub, tokens, sessions, accounts, apiKeys, external, mfa, mailer, webhooks, prune,
    addAuthResolver: (resolver: AuthResolver) => { resolvers.push(resolver); },
  } satisfies Bulwark);
  app.decorateRequest("principal", null);
  app.decorateRequest("authError", null);
  // The outside provider's resolver goes first: it takes only tokens bearing its issuer, whereas the
  // sessions resolver refuses every JWT it cannot verify. API keys (bwk_…) are nobody else's.
  if (external) resolvers.push(externalResolver(external));
  resolvers.push(sessionResolver(sessions, jar), apiKeyResolver(apiKeys));

  // Only JSON is parsed; a text/plain body is refused with 415 instead of reaching a handler.
  app.removeContentTypeParser("text/plain");
  app.setValidatorCompiler(validatorCompiler);
  app.addHook("onRoute", (route) => assertClosedSchemas(route));

  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", (req: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    reply.headers(headers);
    reply.header("x-request-id", req.id);
    if (!closing) return done();
    reply.header("connection", "close");
    done(new AppError("service_unavailable", "server is shutting down; retry", { headers: { "retry-after": "1" } }));
  });
  app.addHook("onRequest", corsHook(config.corsOrigins));
  app.addHook("onRequest", authenticateHook(resolvers));
  app.addHook("onRequest", rateLimitHook(counters, config.rateLimit, (req, policy, key, window) => {
    metrics.rateLimitExceeded.inc({ policy });
    // At most one audit row per key, policy and window: a flood cannot flood the audit table.
    void counters.once(`audit:${policy}:${key}`, window)
      .then((first) => first ? audit.record({ eventType: "rate_limit.exceeded", result: "denied", ...requestActor(req), metadata: { policy, route: req.routeOptions.url ?? null } }) : undefined)
      .catch((error: unknown) => req.log.error({ err: error }, "audit write failed"));
  }));
  app.addHook("onRequest", authorizeHook);
  app.addHook("onResponse", observeHook(metrics));
  const outage = outageReporter(metrics.databaseUnavailable, logger);
  app.setErrorHandler(async (error, req, reply) => {
    // A refused call to an audited route is recorded before the answer goes out (successes are
    // recorded by the service, in the transaction of the change). 429s are audited by the limiter.
    const eventType = req.routeOptions.config.audit;
    const { status, code } = describeError(error);
    // Login failures are counted by the accounts service with their reason; these are the others.
    if (code === "unauthorized" || code === "token_reused") metrics.authFailures.inc({ reason: code });
    if (eventType && status < 500 && status !== 429) {
      await audit.record({ eventType, result: "failure", ...requestActor(req), metadata: { status } })
        .catch((failure: unknown) => req.log.error({ err: failure }, "audit write failed"));
    }
    return sendError(req, reply, error, outage);
  });
  app.setNotFoundHandler((req, reply) => sendError(req, reply, Object.assign(new Error("not found"), { statusCode: 404 })));

  // The outbound delivery worker runs while the app serves; its queue lives in the database.
  app.addHook("onReady", async () => {
    if (deps.webhookWorker ?? deps.clock === undefined) webhooks.start();
  });
  app.addHook("onClose", async () => {
    await webhooks.stop();
    clearInterval(pruneTimer);
    tokens.close();
    sessions.close();
    apiKeys.close();
    // Deliveries in flight finish (briefly) before the database they audit into closes.
    if (!deps.mailer) await mailer.close();
    if (!deps.pubsub) await pubsub.close();
    if (!deps.counters) await counters.close();
    if (!deps.store) await store.close();
  });

  await app.register(observabilityPlugin);
  await app.register(publicConfigPlugin);
  await app.register(auditPlugin);
  await app.register(tokensPlugin, { tokens });
  await app.register(sessionsPlugin, { sessions, jar });
  await app.register(accountsPlugin, { accounts, sessions, jar });
  await app.register(apiKeysPlugin, { keys: apiKeys });
  await app.register(mfaPlugin, { mfa, jar });
  await app.register(webhooksPlugin, { webhooks });
  return app;
}
