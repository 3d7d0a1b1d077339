// The gateway's service: the rules, the identity for the upstream (signed headers or a short
// internal JWT), the request and response header policies, per-rule metrics, and the upstream's
// readiness. It never sees a reply; routes.ts wires it to @fastify/reply-from.
import type { IncomingHttpHeaders } from "node:http";
import { Counter, Histogram } from "prom-client";
import type { Config } from "../../config/types.js";
import type { Clock } from "../../core/clock.js";
import type { Metrics } from "../../core/metrics.js";
import type { Principal } from "../../http/types.js";
import type { TokenService } from "../tokens/index.js";
import {
  IDENTITY_TOKEN_HEADER,
  IDENTITY_TOKEN_TTL,
  IDENTITY_TOKEN_TYP,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  identityValues,
  signIdentity,
} from "./identity.js";
import { loadRules, type ResolvedRule } from "./rules.js";

type GatewayConfig = NonNullable<Config["gateway"]>;

/** What the upstream learns about one request: the headers Bulwark adds. */
export type UpstreamIdentity = Record<string, string>;

/** The facts about a request the forwarded headers are made from (as Bulwark determined them, within TRUST_PROXY). */
export type ForwardedFacts = { ip: string; protocol: string; host: string; id: string };

// Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own: never forwarded either way.
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
// What a client may claim about the path its request took: replaced by what Bulwark saw.
const CLIENT_FORWARDING = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-real-ip",
  "x-request-id",
];
// Bulwark's credentials end at Bulwark: the upstream gets the identity, never the token or key.
const CREDENTIALS = ["authorization", "x-api-key", "x-csrf-token"];

/** Response headers Bulwark sets itself, which the upstream may not override or add to. */
const OWN_RESPONSE_HEADERS = new Set([
  "strict-transport-security",
  "x-content-type-options",
  "x-frame-options",
  "referrer-policy",
  "content-security-policy",
  "cross-origin-opener-policy",
  "cross-origin-resource-policy",
  "permissions-policy",
  "x-xss-protection",
  "x-request-id",
  "ratelimit",
  "ratelimit-policy",
  // Fingerprinting: what the upstream runs on is nobody's business.
  "server",
  "x-powered-by",
  "x-aspnet-version",
  "x-aspnetmvc-version",
]);

/** Creates the gateway service; throws naming the rule and field when the rules file is wrong. */
export function createGatewayService(deps: {
  config: GatewayConfig;
  maxBodyBytes: number;
  clock: Clock;
  metrics: Metrics;
  tokens: TokenService;
  publicUrl: string;
}) {
  const { config, clock, tokens } = deps;
  const rules = loadRules(config.rulesFile, { bodyLimit: deps.maxBodyBytes });
  const registry = deps.metrics.registry;
  // Labels stay bounded: the rule name (from the file), a status class, a failure kind.
  const metrics = {
    requests: new Counter({
      name: "gateway_requests_total",
      help: "Requests that matched a gateway rule, by rule and status class (Bulwark's refusals included).",
      labelNames: ["rule", "status"] as const,
      registers: [registry],
    }),
    upstreamDuration: new Histogram({
      name: "gateway_upstream_duration_seconds",
      help: "Time until the upstream's response headers, by rule.",
      labelNames: ["rule"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: "gateway_upstream_errors_total",
      help: "Proxied requests the upstream did not answer, by rule and kind (timeout, unreachable).",
      labelNames: ["rule", "kind"] as const,
      registers: [registry],
    }),
  };
  const audience = `${deps.publicUrl}/gateway`;

  return {
    rules,
    config,
    metrics,
    /** The identity headers for the upstream: signed `X-Bulwark-*`, or the internal JWT. */
    async identity(
      principal: Principal | null,
      requestId: string,
      method: string,
      target: string,
    ): Promise<UpstreamIdentity> {
      const values = identityValues(principal, requestId);
      if (config.identity === "jwt") {
        const token = await tokens.signInternal(
          {
            ...(principal ? { sub: principal.userId, role: principal.role } : {}),
            ...(principal?.type === "api_key" ? { scopes: principal.scopes ?? [], key: principal.keyId } : {}),
            rid: requestId,
            htm: method,
            htu: target,
          },
          { typ: IDENTITY_TOKEN_TYP, audience, ttlSeconds: IDENTITY_TOKEN_TTL },
        );
        return { [IDENTITY_TOKEN_HEADER]: token, "x-bulwark-request-id": requestId };
      }
      const timestamp = String(Math.floor(clock.now() / 1000));
      return {
        ...values,
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: signIdentity(config.secret!, method, target, timestamp, values),
      };
    },

    /** The request headers the upstream receives: the client's, minus what it may not claim, plus Bulwark's. */
    requestHeaders(
      headers: IncomingHttpHeaders,
      identity: UpstreamIdentity,
      facts: ForwardedFacts,
    ): Record<string, string | string[] | undefined> {
      const out: Record<string, string | string[] | undefined> = {};
      for (const [name, value] of Object.entries(headers)) {
        // Every X-Bulwark-* a client sends is dropped, whatever the identity mode: only Bulwark speaks for Bulwark.
        if (
          name.startsWith("x-bulwark-") ||
          HOP_BY_HOP.includes(name) ||
          CLIENT_FORWARDING.includes(name) ||
          CREDENTIALS.includes(name)
        )
          continue;
        out[name] = value;
      }
      const cookie = withoutBulwarkCookies(headers.cookie);
      if (cookie) out.cookie = cookie;
      else delete out.cookie;
      out["x-forwarded-for"] = facts.ip;
      out["x-forwarded-proto"] = facts.protocol;
      out["x-forwarded-host"] = facts.host;
      out["x-request-id"] = facts.id;
      return { ...out, ...identity };
    },

    /** The upstream's response headers without what Bulwark decides (security headers, CORS, hop-by-hop, fingerprints). */
    responseHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
      const out: IncomingHttpHeaders = {};
      for (const [name, value] of Object.entries(headers)) {
        if (HOP_BY_HOP.includes(name) || OWN_RESPONSE_HEADERS.has(name) || name.startsWith("access-control-")) continue;
        if (name === "set-cookie") {
          // The upstream cannot plant or clear Bulwark's session cookies (session fixation).
          const kept = [value ?? []].flat().filter((c) => !/^\s*(__Host-|__Secure-)?bulwark_/i.test(c));
          if (kept.length > 0) out[name] = kept;
          continue;
        }
        out[name] = value as never;
      }
      return out;
    },

    /** Whether the upstream answers at all (any HTTP status counts): `/ready` reports it. */
    async ping(): Promise<"ok" | "down"> {
      try {
        const res = await fetch(`${config.upstreamUrl}/`, {
          method: "HEAD",
          redirect: "manual",
          signal: AbortSignal.timeout(2000),
        });
        await res.body?.cancel();
        return "ok";
      } catch {
        return "down";
      }
    },
  };
}

export type GatewayService = ReturnType<typeof createGatewayService>;
export type { ResolvedRule };

/** The Cookie header without Bulwark's own cookies (the session stays between the browser and Bulwark). */
function withoutBulwarkCookies(cookie: string | undefined): string | undefined {
  if (!cookie) return undefined;
  const kept = cookie
    .split(";")
    .map((c) => c.trim())
    .filter((c) => c && !/^(__Host-|__Secure-)?bulwark_/i.test(c));
  return kept.length > 0 ? kept.join("; ") : undefined;
}
