// The proxied routes: one Fastify route per rule (its prefix and everything under it), declared
// like every other route (`auth`, `rateLimit`, `audit`), so the whole pipeline — authentication,
// CSRF for cookie sessions, rate limits per user and per key, CORS, security headers, the error
// envelope — runs before a byte reaches the upstream. Bodies and responses stream both ways.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Transform, type Readable } from "node:stream";
import { AppError, errors } from "../../core/errors.js";
import { requestActor, type AuditEventType, type AuditService } from "../audit/index.js";
import proxyAddr from "@fastify/proxy-addr";
import type { Config } from "../../config/types.js";
import { trustProxyOption } from "../../http/client-ip.js";
import type { AccountService } from "../accounts/index.js";
import type { SessionService } from "../sessions/index.js";
import type { Counters } from "../../store/counters.js";
import { ALWAYS_RESERVED, within, type ResolvedRule } from "./rules.js";
import type { GatewayService } from "./service.js";
import { proxyUpgrades } from "./websocket.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The gateway rule a proxied route stands for. */
    gatewayRule?: ResolvedRule;
  }
  interface FastifyRequest {
    /** Set once the upstream answered: its status is the response's, and Bulwark did not refuse. */
    proxiedAt?: bigint;
    /** Set when the streamed body went past the rule's limit. */
    bodyTooLarge?: boolean;
  }
}

// A request target is sent upstream byte for byte, and the upstream must see the path Bulwark
// matched. So anything a URL parser could rewrite is refused: dot segments (`/public/../admin`
// would reach `/admin` under the public rule), backslashes (read as `/` by WHATWG parsers), empty
// segments, encoded `/`, `\` or `.`, and characters outside RFC 3986's path and query sets.
const TARGET = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?$/;
const AMBIGUOUS = /\/\.{1,2}(\/|$)|\/\/|%2f|%5c|%2e|%00/i;

/** Whether a raw request target can be forwarded as it is. */
export function safeTarget(target: string): boolean {
  const path = target.split("?", 1)[0]!;
  return TARGET.test(target) && !AMBIGUOUS.test(path);
}

/** The prefixes Bulwark's own routes live under (`/api/keys` for `/api/keys/:id`): never proxied. */
function reservedPrefixes(app: FastifyInstance): string[] {
  const found = new Set(ALWAYS_RESERVED);
  for (const route of app.bulwark.routes()) {
    if (route.body === "proxied") continue;
    const statics: string[] = [];
    for (const segment of route.url.split("/").filter(Boolean)) {
      if (segment.includes(":") || segment.includes("*") || statics.length === 2) break;
      statics.push(segment);
    }
    if (statics.length > 0) found.add(`/${statics.join("/")}`);
  }
  return [...found];
}

/** Registers every rule's route in a context of its own: bodies there are streams, not parsed JSON. */
export async function gatewayRoutes(
  app: FastifyInstance,
  gateway: GatewayService,
  deps: {
    audit: AuditService;
    sessions: SessionService;
    accounts: Pick<AccountService, "onChanged" | "sessionUser">;
    config: Config;
    counters: Counters;
  },
): Promise<void> {
  const { audit, sessions, config } = deps;
  // Rules may not reach into Bulwark's own paths; routes registered later (a library user's) are
  // guarded at request time below.
  let reserved = reservedPrefixes(app);
  for (const rule of gateway.rules) {
    const clash = reserved.find((r) => within(rule.prefix, r));
    if (clash)
      throw new Error(
        `GATEWAY_RULES ${gateway.config.rulesFile}: rule "${rule.name}": prefix: ${rule.prefix} is inside ${clash}, which Bulwark answers itself`,
      );
  }
  let stopUpgrades: (() => void) | undefined;
  app.addHook("onReady", async () => {
    reserved = reservedPrefixes(app);
    if (gateway.rules.some((r) => r.websocket)) {
      const trust = trustProxyOption(config.trustProxy);
      stopUpgrades = proxyUpgrades(app.server, {
        gateway,
        sessions,
        accounts: deps.accounts,
        reserved: () => reserved,
        counters: deps.counters,
        limits: config.rateLimit,
        allowedOrigins: config.corsOrigins,
        publicUrl: config.publicUrl,
        production: config.production,
        // The client IP as Fastify computes it for requests: X-Forwarded-For believed only within TRUST_PROXY.
        ip: (req) => (trust === false ? (req.socket.remoteAddress ?? "") : proxyAddr(req, trust as never)),
      });
    }
  });
  app.addHook("preClose", async () => stopUpgrades?.());
  for (const rule of gateway.rules) {
    if (rule.audit && !audit.vocabulary().has(rule.audit)) {
      audit.define({
        [rule.audit]: {
          description: `Gateway rule "${rule.name}": writes the upstream answered, and Bulwark's refusals.`,
        },
      });
    }
  }

  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // Every body is a stream handed to the upstream as it arrives, held to the rule's type and size.
    scope.addContentTypeParser(
      "*",
      (req: FastifyRequest, payload: Readable, done: (error: Error | null, body?: unknown) => void) => {
        const rule = req.routeOptions.config.gatewayRule!;
        const type = (req.headers["content-type"] ?? "").split(";", 1)[0]!.trim().toLowerCase();
        if (!rule.content_types.includes(type)) {
          return done(new AppError("unsupported_media_type", `this path takes ${rule.content_types.join(", ")}`));
        }
        const declared = Number(req.headers["content-length"] ?? Number.NaN);
        if (declared > rule.body_limit)
          return done(new AppError("payload_too_large", `body is larger than ${rule.body_limit} bytes`));
        done(
          null,
          payload.pipe(
            limitStream(rule.body_limit, () => {
              req.bodyTooLarge = true;
            }),
          ),
        );
      },
    );
    // Loaded only when a gateway is configured (it brings undici): a start without one skips it.
    const { default: replyFrom } = await import("@fastify/reply-from");
    await scope.register(replyFrom, {
      base: gateway.config.upstreamUrl,
      undici: {
        connections: gateway.config.connections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        headersTimeout: gateway.config.timeoutMs,
        bodyTimeout: gateway.config.timeoutMs,
      },
      disableRequestLogging: true,
      // The upstream's answers pass through as they are: no retries on its 503s or resets.
      retryMethods: [],
    });

    for (const rule of gateway.rules) {
      const urls = rule.prefix === "/" ? ["/", "/*"] : [rule.prefix, `${rule.prefix}/*`];
      for (const url of urls) {
        scope.route({
          method: rule.methods,
          url,
          exposeHeadRoute: false,
          config: {
            auth: rule.auth,
            rateLimit: rule.rate_limit,
            proxied: true,
            gatewayRule: rule,
            ...(rule.audit ? { audit: rule.audit } : {}),
            ...(rule.cors ? {} : { cors: false as const }),
          },
          handler: (req, reply) => proxy(req, reply, gateway, reserved),
        });
      }
    }
    scope.addHook("onResponse", async (req, reply) => {
      const rule = req.routeOptions.config.gatewayRule;
      if (!rule) return;
      gateway.metrics.requests.inc({ rule: rule.name, status: `${Math.floor(reply.statusCode / 100)}xx` });
      // Writes the upstream answered are audited here; Bulwark's own refusals by the error handler.
      if (rule.audit && req.proxiedAt !== undefined && req.method !== "GET" && req.method !== "HEAD") {
        await audit
          .record({
            eventType: rule.audit as AuditEventType,
            result: reply.statusCode < 400 ? "success" : "failure",
            ...requestActor(req),
            metadata: { rule: rule.name, method: req.method, status: reply.statusCode },
          })
          .catch((error: unknown) => req.log.error({ err: error }, "audit write failed"));
      }
    });
  });
}

/** Sends one request upstream and its answer back. */
async function proxy(
  req: FastifyRequest,
  reply: FastifyReply,
  gateway: GatewayService,
  reserved: readonly string[],
): Promise<FastifyReply> {
  const rule = req.routeOptions.config.gatewayRule!;
  const target = req.raw.url ?? "/";
  const path = target.split("?", 1)[0]!;
  if (reserved.some((r) => within(path, r))) throw errors.notFound();
  if (!safeTarget(target))
    throw errors.invalid(
      "the path has dot segments, empty segments, encoded separators or characters that cannot be forwarded as they are",
    );
  const identity = await gateway.identity(req.principal, req.id, req.method, target);
  const facts = { ip: req.ip, protocol: req.protocol, host: req.host, id: req.id };
  const started = process.hrtime.bigint();
  return reply.from(path, {
    rewriteRequestHeaders: (_req, headers) => gateway.requestHeaders(headers, identity, facts) as never,
    rewriteHeaders: (headers) => {
      const clean = gateway.responseHeaders(headers);
      // Keep the CORS Vary of Bulwark's answer alongside the upstream's own.
      const ours = reply.getHeader("vary");
      if (ours !== undefined && clean.vary !== undefined) clean.vary = `${String(ours)}, ${String(clean.vary)}`;
      return clean;
    },
    onResponse: (_req, rep, res) => {
      req.proxiedAt = process.hrtime.bigint();
      gateway.metrics.upstreamDuration.observe({ rule: rule.name }, Number(req.proxiedAt - started) / 1e9);
      rep.send(res.stream);
    },
    onError: (rep, { error }) => {
      // The client sees an envelope and nothing of the cause; the log keeps the cause.
      const name = (error as { name?: string; code?: string }).code ?? "";
      if (req.bodyTooLarge)
        return rep.send(new AppError("payload_too_large", `body is larger than ${rule.body_limit} bytes`));
      const timeout =
        name === "FST_REPLY_FROM_GATEWAY_TIMEOUT" ||
        name === "UND_ERR_CONNECT_TIMEOUT" ||
        (name.startsWith("FST_REPLY_FROM_") && name.endsWith("_TIMEOUT"));
      gateway.metrics.upstreamErrors.inc({ rule: rule.name, kind: timeout ? "timeout" : "unreachable" });
      req.log.warn({ err: (error as Error).message, code: name, rule: rule.name }, "gateway: upstream failed");
      rep.send(
        timeout
          ? new AppError("gateway_timeout", "the upstream did not answer in time")
          : new AppError("bad_gateway", "the upstream could not be reached"),
      );
    },
  });
}

/** Passes a body through while counting it; past `limit` bytes it fails, and the request to the upstream with it. */
function limitStream(limit: number, onOverflow: () => void): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > limit) {
        onOverflow();
        return callback(new AppError("payload_too_large", `body is larger than ${limit} bytes`));
      }
      callback(null, chunk);
    },
  });
}
