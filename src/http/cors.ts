// Strict CORS: only the exact origins of CORS_ORIGINS get CORS headers (with credentials); every
// other origin, including `null`, gets none, so the browser withholds the response.
import type { FastifyReply, FastifyRequest } from "fastify";

const ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE";
const ALLOW_HEADERS = "Authorization, Content-Type, X-API-Key, X-CSRF-Token, X-Request-Id, Idempotency-Key";
const EXPOSE_HEADERS = "X-Request-Id, RateLimit, RateLimit-Policy, Retry-After, WWW-Authenticate";
/** Browsers cap this (Chromium at 2 h); 10 minutes keeps a changed policy from lingering. */
const MAX_AGE = "600";

/** An onRequest hook applying the allow-list; it answers preflight requests itself. */
export function corsHook(origins: readonly string[]) {
  // "*" and "null" are never echoed, whatever the setting says (production refuses them anyway).
  const allowed = new Set(origins.filter((o) => o !== "*" && o !== "null"));
  return function cors(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const origin = req.headers.origin;
    if (origin === undefined) return done();
    reply.header("vary", "Origin");
    // A route may refuse browsers altogether (a gateway rule with `cors: false`).
    const ok = allowed.has(origin) && req.routeOptions.config?.cors !== false;
    if (ok) {
      reply.header("access-control-allow-origin", origin);
      reply.header("access-control-allow-credentials", "true");
    }
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
      if (ok) {
        reply.header("access-control-allow-methods", ALLOW_METHODS);
        reply.header("access-control-allow-headers", ALLOW_HEADERS);
        reply.header("access-control-max-age", MAX_AGE);
      }
      // Answer here: a preflight never reaches a route, a rate limit or authentication.
      reply.code(204).send();
      return;
    }
    if (ok) reply.header("access-control-expose-headers", EXPOSE_HEADERS);
    done();
  };
}
