// What a route declares about its protections, who a caller is, and what the pipeline attaches to
// a request. Modules and http/ both read this file; it imports nothing of the project's.
import type { FastifyRequest } from "fastify";

/** Who is calling, once a resolver accepted their credentials. */
export type Principal = {
  type: "user" | "api_key" | "external";
  userId: string;
  role: "user" | "admin";
  sessionId?: string;
  keyId?: string;
  scopes?: readonly string[];
  /** An API key with its own budget: requests per minute, counted in the key's own bucket. */
  rateLimitPerMinute?: number;
};

/** Returns a Principal for the request's credentials, null when they are not its kind, or throws AppError when they are bad. */
export type AuthResolver = (req: FastifyRequest) => Promise<Principal | null>;

/**
 * Who may call a route: anyone (`public`), a signed-in user, an admin, an API key with a scope
 * (users pass too when `user` is true), `optional` (anyone, but credentials that are sent must be
 * good), or the holder of a named operator token (`{ token: "metrics" }`: METRICS_TOKEN).
 */
export type AuthRequirement =
  "public" | "user" | "admin" | "optional" | { apiKey: string; user?: boolean } | { token: OperatorToken };

/** Operator tokens a route can demand as a bearer token. */
export type OperatorToken = "metrics";

/** The rate-limit classes a route can pick; `false` opts out (health checks and metrics only). */
export const RATE_LIMIT_CLASSES = [
  "default",
  "auth-login",
  "auth-register",
  "sensitive",
  "webhook",
  "introspect",
] as const;
export type RateLimitClass = (typeof RATE_LIMIT_CLASSES)[number];

declare module "fastify" {
  interface FastifyContextConfig {
    /** Mandatory: checked when the route is registered. */
    auth?: AuthRequirement;
    /** Mandatory: a class, or `false` spelled out; a route without limits resolves no credentials. */
    rateLimit?: RateLimitClass | false;
    /** The audit event type of this route (declared in the vocabulary); failures (4xx) are recorded under it. */
    audit?: string;
    /** The body is raw bytes the handler authenticates itself (signed webhooks): no body schema. */
    rawBody?: true;
    /** The body schema may accept unknown fields (`additionalProperties` true or unset): a deliberate, greppable exception. */
    openBody?: boolean;
    /**
     * The body is a multipart stream the handler reads part by part (file uploads): no body schema,
     * the handler checks each part. Only a context that registered `@fastify/multipart` can parse it.
     */
    multipart?: true;
    /**
     * The body is streamed to the gateway's upstream untouched (gateway mode): no body schema, the
     * upstream validates it; the gateway enforces the rule's body limit and content types.
     */
    proxied?: true;
    /** `false`: no CORS headers on this route, whatever `CORS_ORIGINS` allows (gateway rules with `cors: false`). */
    cors?: false;
  }
  interface FastifyRequest {
    /** Who is calling, once authentication resolved credentials; null for anonymous calls. */
    principal: Principal | null;
    /** Why presented credentials were refused, for routes that require authentication. */
    authError: unknown;
  }
}
