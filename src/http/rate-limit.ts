// Rate limits on every route: a global budget per minute and per hour for each client (its IP, or
// its user or key once authenticated), plus the budget of the route's class. Headers follow the
// IETF httpapi RateLimit draft; a refused request gets 429 with Retry-After.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Config } from "../config/types.js";
import { errors } from "../core/errors.js";
import type { Counters, Hit } from "../store/counters.js";
import { clientKey } from "./client-ip.js";
import type { Principal } from "./auth.js";
import type { RateLimitClass } from "./types.js";

type Policy = { name: string; limit: number; window: number; by: "client" | "ip" };
type ClassPlan = { policies: Policy[]; header: string; byIp: boolean };

/** Called once per refused request, with the policy that refused it and the key it counted. */
export type ExceededHandler = (req: FastifyRequest, policy: string, key: string, windowSeconds: number) => void;

/** The policies of each class, from the settings. */
export function ratePlans(limits: Config["rateLimit"]): Record<RateLimitClass, ClassPlan> {
  const global: Policy[] = [
    { name: "minute", limit: limits.perMinute, window: 60, by: "client" },
    { name: "hour", limit: limits.perHour, window: 3600, by: "client" },
  ];
  const plan = (policies: Policy[]): ClassPlan => ({
    policies,
    byIp: policies.some((p) => p.by === "ip"),
    header: policies.map((p) => `"${p.name}";q=${p.limit};w=${p.window}`).join(", "),
  });
  return {
    default: plan(global),
    // Login and registration are counted per IP whoever claims to be calling: that is the attacker's cost.
    "auth-login": plan([...global, { name: "login", limit: limits.loginPerMinute, window: 60, by: "ip" }]),
    "auth-register": plan([...global, { name: "register", limit: limits.registerPerMinute, window: 60, by: "ip" }]),
    sensitive: plan([...global, { name: "sensitive", limit: limits.sensitivePerMinute, window: 60, by: "client" }]),
    // Inbound webhooks come in bursts from a provider's few addresses, and a 429 only delays them
    // (providers retry with back-off): a per-IP budget ten times the per-minute one, no hourly cap.
    webhook: plan([{ name: "webhook", limit: limits.perMinute * 10, window: 60, by: "ip" }]),
    // Token introspection is called by other services for their users' requests: its own budget per
    // calling key (or its owner), instead of the global one, so a busy resource server neither
    // starves its owner's other calls nor is starved by them.
    introspect: plan([{ name: "introspect", limit: limits.introspectPerMinute, window: 60, by: "client" }]),
  };
}

/**
 * The key a request is counted under: the principal when authenticated, else the client IP (IPv6 by
 * /64). An API key counts against its owner's budget, so minting keys does not multiply it; a key
 * with its own limit is counted in its own bucket as well, never instead.
 */
export function rateKey(req: FastifyRequest): string {
  const p = req.principal;
  if (!p) return `ip:${clientKey(req.ip)}`;
  return principalKey(p);
}

function principalKey(p: Principal): string {
  if (p.type === "api_key") return `user:${p.userId}`;
  return `${p.type}:${p.userId}`;
}

/** An onRequest hook (after authentication) enforcing the route's class, or nothing when disabled. */
export function rateLimitHook(counters: Counters, limits: Config["rateLimit"], onExceeded: ExceededHandler) {
  const plans = ratePlans(limits);
  const hitNow = counters.hitNow;
  /** Sets the headers from the counts; the error to refuse with, when a policy is exhausted. */
  const decide = (
    req: FastifyRequest,
    reply: FastifyReply,
    plan: ClassPlan,
    hits: Hit[],
    keys: Keys,
  ): Error | undefined => {
    // Report the policy that refused, or else the one closest to running out.
    let index = hits.findIndex((h) => !h.allowed);
    if (index < 0) index = hits.reduce((best, h, i) => (h.remaining < hits[best]!.remaining ? i : best), 0);
    const hit = hits[index] as Hit;
    const policy = (index < plan.policies.length ? plan.policies[index] : keyPolicy(keys.own!.limit)) as Policy;
    reply.header(
      "ratelimit-policy",
      keys.own === undefined ? plan.header : `${plan.header}, "key";q=${keys.own.limit};w=60`,
    );
    reply.header("ratelimit", `"${policy.name}";r=${hit.remaining};t=${hit.resetSeconds}`);
    if (hit.allowed) return undefined;
    onExceeded(
      req,
      policy.name,
      policy.name === "key" ? keys.own!.key : policy.by === "ip" ? keys.ip : keys.client,
      policy.window,
    );
    return errors.rateLimited(hit.resetSeconds);
  };
  // Callback style, and counted synchronously when the counters live in this process: the common
  // request pays for no promise.
  return function rateLimit(req: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void {
    const cls = req.routeOptions.config.rateLimit;
    if (cls === false || !limits.enabled) return done();
    const plan = plans[cls ?? "default"];
    // The IP is worked out only when something counts by it (IPv6 parsing is not free).
    const ip = plan.byIp || !req.principal ? `ip:${clientKey(req.ip)}` : "";
    // A key's own per-minute limit is one more budget, on top of its owner's.
    const p = req.principal;
    const own =
      p?.type === "api_key" && p.rateLimitPerMinute !== undefined
        ? { key: `api_key:${p.keyId}`, limit: p.rateLimitPerMinute }
        : undefined;
    const keys: Keys = { ip, client: p ? principalKey(p) : ip, own };
    const requests = plan.policies.map((policy) => ({
      key: `${policy.name}:${policy.by === "ip" ? keys.ip : keys.client}`,
      limit: policy.limit,
      windowSeconds: policy.window,
    }));
    if (own) requests.push({ key: `key:${own.key}`, limit: own.limit, windowSeconds: 60 });
    if (hitNow)
      return done(
        decide(
          req,
          reply,
          plan,
          requests.map((r) => hitNow(r.key, r.limit, r.windowSeconds)),
          keys,
        ),
      );
    counters.hitMany(requests).then(
      (hits) => done(decide(req, reply, plan, hits, keys)),
      (error: unknown) => done(error as Error),
    );
  };
}

type Keys = { ip: string; client: string; own: { key: string; limit: number } | undefined };

/** The budget of an API key with its own per-minute limit. */
function keyPolicy(limit: number): Policy {
  return { name: "key", limit, window: 60, by: "client" };
}
