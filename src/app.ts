// createApp: the hardened Fastify instance. Every cross-cutting protection is registered here, once,
// before any module: request id, security headers, CORS, body limit, JSON-only parsing, strict
// schemas, authentication, rate limits, error envelope, logging and metrics. It never listens.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Config } from "./config/load.js";
import { systemClock, type Clock } from "./core/clock.js";
import { createLogger, type Logger } from "./core/logger.js";
import { createMetrics, type Metrics } from "./core/metrics.js";
import { authHook, type AuthResolver } from "./http/auth.js";
import { trustProxyOption } from "./http/client-ip.js";
import { corsHook } from "./http/cors.js";
import { describeError, sendError } from "./http/errors.js";
import { requestId, securityHeaders } from "./http/headers.js";
import { observeHook } from "./http/observe.js";
import { rateLimitHook } from "./http/rate-limit.js";
import { assertClosedSchemas, validatorCompiler } from "./http/validation.js";
import "./http/types.js";
import { auditPlugin, createAuditService, requestActor, type AuditService } from "./modules/audit/index.js";
import { observabilityPlugin } from "./modules/observability/index.js";
import { publicConfigPlugin } from "./modules/public-config/index.js";
import { createCounters, type Counters } from "./store/counters.js";
import { openStore, type Store } from "./store/db.js";
import { migrate } from "./store/migrate.js";

export type AppDeps = {
  store?: Store;
  counters?: Counters;
  clock?: Clock;
  logger?: Logger;
  metrics?: Metrics;
  /** Apply pending migrations before serving (default true). */
  migrate?: boolean;
};

/** What modules and library code reach through `app.bulwark`. */
export type Bulwark = {
  readonly config: Config;
  readonly store: Store;
  readonly counters: Counters;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly audit: AuditService;
  /** Adds a credential resolver (sessions, API keys, outside tokens); tried in registration order. */
  addAuthResolver(resolver: AuthResolver): void;
};

declare module "fastify" {
  interface FastifyInstance {
    bulwark: Bulwark;
  }
}

/** Builds the app on the given configuration; resources it opened are closed by `app.close()`. */
export async function createApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const logger = deps.logger ?? createLogger({ level: config.logLevel, secrets: [config.secretKey, config.metricsToken, config.encryptionKeys] });
  const clock = deps.clock ?? systemClock;
  const metrics = deps.metrics ?? createMetrics();
  const store = deps.store ?? (await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, onError: (e) => logger.error({ err: e }, "database pool error") }));
  if (deps.migrate !== false) await migrate(store);
  const counters = deps.counters ?? createCounters({ clock, redisUrl: config.redisUrl, onError: (e) => logger.warn({ err: e.message }, "redis unavailable: rate limits hold per instance") });
  const audit = createAuditService({ db: store.db, clock });

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request is logged by observeHook; Fastify's two default lines carry the raw URL.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: config.maxBodyBytes,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
    // Errors raised before routing (a malformed URL) still get headers and the envelope.
    frameworkErrors: (error, req, reply) => {
      reply.headers(headers);
      sendError(req, reply, error);
    },
  });

  const headers = securityHeaders(config.production);
  const resolvers: AuthResolver[] = [];
  app.decorate("bulwark", {
    config, store, counters, clock, metrics, audit,
    addAuthResolver: (resolver: AuthResolver) => { resolvers.push(resolver); },
  } satisfies Bulwark);
  app.decorateRequest("principal", null);

  // Only JSON is parsed; a text/plain body is refused with 415 instead of reaching a handler.
  app.removeContentTypeParser("text/plain");
  app.setValidatorCompiler(validatorCompiler);
  app.addHook("onRoute", (route) => assertClosedSchemas(route));

  app.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
    reply.headers(headers);
    reply.header("x-request-id", req.id);
  });
  app.addHook("onRequest", corsHook(config.corsOrigins));
  app.addHook("onRequest", authHook(resolvers));
  app.addHook("onRequest", rateLimitHook(counters, config.rateLimit, (req, policy, key, window) => {
    metrics.rateLimitExceeded.inc({ policy });
    // At most one audit row per key, policy and window: a flood cannot flood the audit table.
    void counters.once(`audit:${policy}:${key}`, window)
      .then((first) => first ? audit.record({ eventType: "rate_limit.exceeded", result: "denied", ...requestActor(req), metadata: { policy, route: req.routeOptions.url ?? null } }) : undefined)
      .catch((error: unknown) => req.log.error({ err: error }, "audit write failed"));
  }));
  app.addHook("onResponse", observeHook(metrics));
  app.setErrorHandler(async (error, req, reply) => {
    // A refused call to an audited route is recorded before the answer goes out (successes are
    // recorded by the service, in the transaction of the change). 429s are audited by the limiter.
    const eventType = req.routeOptions.config.audit;
    const status = describeError(error).status;
    if (eventType && status < 500 && status !== 429) {
      await audit.record({ eventType, result: "failure", ...requestActor(req), metadata: { status } })
        .catch((failure: unknown) => req.log.error({ err: failure }, "audit write failed"));
    }
    return sendError(req, reply, error);
  });
  app.setNotFoundHandler((req, reply) => sendError(req, reply, Object.assign(new Error("not found"), { statusCode: 404 })));

  app.addHook("onClose", async () => {
    if (!deps.counters) await counters.close();
    if (!deps.store) await store.close();
  });

  await app.register(observabilityPlugin);
  await app.register(publicConfigPlugin);
  await app.register(auditPlugin);
  return app;
}
