// createApp: the hardened Fastify instance. Every cross-cutting protection is registered here, once,
// before any module: request id, security headers, CORS, body limit, JSON-only parsing, strict
// schemas, route declarations, authentication, rate limits, error envelope, logging and metrics.
// Then each module of the runtime adds its resolver and its routes. It never listens.
import { readFileSync } from "node:fs";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchema,
} from "fastify";
import type { Config } from "./config/types.js";
import { AppError } from "./core/errors.js";
import { startupMark } from "./core/startup.js";
import { authenticateHook, authorizeHook } from "./http/auth.js";
import { trustProxyOption } from "./http/client-ip.js";
import { clientErrorHandler } from "./http/client-errors.js";
import { corsHook } from "./http/cors.js";
import { describeError, outageReporter, sendError } from "./http/errors.js";
import { requestId, securityHeaders } from "./http/headers.js";
import { registerJsonParser } from "./http/json-body.js";
import { observeHook } from "./http/observe.js";
import { registerOpenApi } from "./http/openapi.js";
import { rateLimitHook } from "./http/rate-limit.js";
import { routeProblem } from "./http/route-rules.js";
import type { AuthResolver } from "./http/types.js";
import { deferredCompiles, deferredSerializers } from "./http/deferred-compile.js";
import { assertClosedSchemas, validatorCompiler } from "./http/validation.js";
import { createRuntime, type RuntimeDeps } from "./kernel.js";
import { requestActor, type AuditEventType } from "./modules/audit/index.js";
import type { Kernel, Services } from "./modules/module.js";

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

export type AppDeps = RuntimeDeps & {
  /** @deprecated use `background`: whether the outbound webhook worker (and other timers) run. */
  webhookWorker?: boolean;
};

/** One registered route as docs/routes.md lists it. */
export type RouteRecord = {
  method: string;
  url: string;
  auth: unknown;
  rateLimit: unknown;
  audit: string | undefined;
  /** `closed` (a schema refusing unknown fields), `open` (declared `openBody`), `raw` (bytes checked by the handler), `multipart` (parts checked by the handler), `proxied` (streamed to the gateway's upstream under the rule's size and type limits), or `none`. */
  body: "closed" | "open" | "raw" | "multipart" | "proxied" | "none";
  response: boolean;
  /** The request schemas, for tests that drive every route with hostile input. */
  schema: Pick<FastifySchema, "body" | "querystring" | "params">;
};

/** What library code reaches through `app.bulwark`: the kernel, every module's service, and a few operations. */
export type Bulwark = Kernel &
  Readonly<Services> & {
    /** Adds a credential resolver, tried after the modules' own. */
    addAuthResolver(resolver: AuthResolver): void;
    /** Deletes what has outlived its use (ended sessions, stale login counters); runs hourly by itself. */
    prune(): Promise<Record<string, number>>;
    /** Every route registered so far, with its declared protections. */
    routes(): readonly RouteRecord[];
    /**
     * Compiles the route schemas (validators, response serializers) not compiled yet, and returns
     * those that failed. Each compiles at its route's first request, and all of them in the
     * background once the server listens; a test can call this to find a broken schema at once.
     */
    compileSchemas(): Promise<Error[]>;
  };

declare module "fastify" {
  interface FastifyInstance {
    bulwark: Bulwark;
  }
}

/** Builds the app on the given configuration; resources it opened are closed by `app.close()`. */
export async function createApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const runtime = await createRuntime(config, {
    ...deps,
    background: deps.background ?? deps.webhookWorker ?? deps.clock === undefined,
  });
  try {
    return await buildApp(runtime);
  } catch (error) {
    await runtime.close().catch(() => undefined);
    throw error;
  }
}

async function buildApp(runtime: Awaited<ReturnType<typeof createRuntime>>): Promise<FastifyInstance> {
  const { kernel, created } = runtime;
  const { config, audit, counters, metrics } = kernel;
  const headers = securityHeaders(config.production);
  const deferred = deferredCompiles();
  const app = Fastify({
    schemaController: { compilersFactory: { buildSerializer: deferredSerializers(deferred) } },
    loggerInstance: kernel.logger as FastifyBaseLogger,
    // One line per request is logged by observeHook; Fastify's two default lines carry the raw URL.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: config.maxBodyBytes,
    // Requests arriving while closing get our 503 envelope (below), not Fastify's bare body.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 200 },
    // Errors of Node's HTTP parser (bad request line or header, 431) get headers and the envelope too.
    clientErrorHandler: clientErrorHandler(headers),
    // Errors raised before routing (a malformed URL) still get headers and the envelope.
    frameworkErrors: (error, req, reply) => {
      reply.headers(headers);
      reply.header("x-request-id", req.id);
      sendError(req, reply, error);
    },
  });

  // Credential resolvers in their declared order; an application's own come after.
  const resolvers: AuthResolver[] = created
    .flatMap(({ module, service }) =>
      module.resolver ? [{ order: module.resolver.order, resolve: module.resolver.create(service) }] : [],
    )
    .sort((a, b) => a.order - b.order)
    .flatMap(({ resolve }) => (resolve ? [resolve] : []));
  const routes: RouteRecord[] = [];
  app.decorate("bulwark", {
    ...kernel,
    ...runtime.services,
    prune: runtime.prune,
    routes: () => routes,
    compileSchemas: () => deferred.compileRemaining(),
    addAuthResolver: (resolver: AuthResolver) => {
      resolvers.push(resolver);
    },
  } satisfies Bulwark);
  app.decorateRequest("principal", null);
  app.decorateRequest("authError", null);

  // Only JSON is parsed; a text/plain body is refused with 415 instead of reaching a handler.
  app.removeContentTypeParser("text/plain");
  // JSON nested past 32 levels is refused before anything walks it (stack exhaustion).
  registerJsonParser(app);
  app.setValidatorCompiler(validatorCompiler(deferred));
  // The schemas not compiled by a first request compile now, in the background (listen does not wait).
  app.addHook("onListen", (done) => {
    void deferred.compileRemaining().then((failed) => {
      for (const error of failed) app.log.error({ err: error }, "a route schema does not compile");
    });
    done();
  });
  // A route that does not declare its protections is refused now, not left open at request time.
  app.addHook("onRoute", (route) => {
    assertClosedSchemas(route);
    const problem = routeProblem(route, (type) => audit.vocabulary().has(type));
    if (problem) throw new Error(`route ${String(route.method)} ${route.url}: ${problem}`);
    const config = route.config ?? {};
    for (const method of [route.method].flat()) {
      if (method === "HEAD") continue;
      const body = config.rawBody
        ? "raw"
        : config.multipart
          ? "multipart"
          : config.proxied
            ? "proxied"
            : config.openBody
              ? "open"
              : route.schema?.body !== undefined
                ? "closed"
                : "none";
      routes.push({
        method,
        url: route.url,
        auth: config.auth,
        rateLimit: config.rateLimit,
        audit: config.audit,
        body,
        response: route.schema?.response !== undefined,
        schema: { body: route.schema?.body, querystring: route.schema?.querystring, params: route.schema?.params },
      });
    }
  });

  // The OpenAPI document sees every route registered from here on, an application's own included.
  await registerOpenApi(app, { publicUrl: config.publicUrl, version: PACKAGE_VERSION });

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
  app.addHook(
    "onRequest",
    rateLimitHook(counters, config.rateLimit, (req, policy, key, window) => {
      metrics.rateLimitExceeded.inc({ policy });
      // At most one audit row per key, policy and window: a flood cannot flood the audit table.
      void counters
        .once(`audit:${policy}:${key}`, window)
        .then((first) =>
          first
            ? audit.record({
                eventType: "rate_limit.exceeded",
                result: "denied",
                ...requestActor(req),
                metadata: { policy, route: req.routeOptions.url ?? null },
              })
            : undefined,
        )
        .catch((error: unknown) => req.log.error({ err: error }, "audit write failed"));
    }),
  );
  app.addHook("onRequest", authorizeHook({ metrics: config.metricsToken }));
  app.addHook("onResponse", observeHook(metrics));
  const outage = outageReporter(metrics.databaseUnavailable, kernel.logger);
  app.setErrorHandler(async (error, req, reply) => {
    // A refused call to an audited route is recorded before the answer goes out (successes are
    // recorded by the service, in the transaction of the change). 429s are audited by the limiter.
    const eventType = req.routeOptions.config.audit;
    const { status, code } = describeError(error);
    // Login failures are counted by the signin service with their reason; these are the others.
    if (code === "unauthorized" || code === "token_reused") metrics.authFailures.inc({ reason: code });
    if (eventType && status < 500 && status !== 429) {
      // Declared at registration (routeProblem), so the vocabulary knows it.
      await audit
        .record({
          eventType: eventType as AuditEventType,
          result: "failure",
          ...requestActor(req),
          metadata: { status },
        })
        .catch((failure: unknown) => req.log.error({ err: failure }, "audit write failed"));
    }
    return sendError(req, reply, error, outage);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(req, reply, Object.assign(new Error("not found"), { statusCode: 404 })),
  );
  app.addHook("onClose", () => runtime.close());

  for (const { module, service } of created) {
    if (module.routes) await module.routes(app, service, runtime.use, kernel);
  }
  startupMark("routes");
  return app;
}
