// What a route declares about its protections, and what the pipeline attaches to a request.
import type { Principal } from "./auth.js";

/**
 * Who may call a route: a signed-in user, an admin, an API key with a scope (users pass too when
 * `user` is true), or `optional`: anyone, but credentials that are sent must be good.
 */
export type AuthRequirement = "user" | "admin" | "optional" | { apiKey: string; user?: boolean };

/** The rate-limit classes a route can pick; `false` opts out (health checks only). */
export type RateLimitClass = "default" | "auth-login" | "auth-register" | "sensitive" | "webhook";

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: AuthRequirement;
    rateLimit?: RateLimitClass | false;
    /** The audit event type of this route; failures (4xx) are recorded under it automatically. */
    audit?: string;
    /** The body schema may accept unknown fields (`additionalProperties` true or unset): a deliberate, greppable exception. */
    openBody?: boolean;
  }
  interface FastifyRequest {
    /** Who is calling, once authentication resolved credentials; null for anonymous calls. */
    principal: Principal | null;
    /** Why presented credentials were refused, for routes that require authentication. */
    authError: unknown;
  }
}
