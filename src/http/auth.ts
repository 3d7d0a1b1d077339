// Authentication as a hook point: modules (sessions, API keys, outside identity providers) register
// resolvers that turn credentials into a Principal; this file knows none of them. Routes declare
// `config.auth` and this hook refuses callers that do not meet it.
import type { FastifyReply, FastifyRequest } from "fastify";
import { errors } from "../core/errors.js";
import type { AuthRequirement } from "./types.js";

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

/** Whether the request carries credentials at all: the cheap test that keeps anonymous requests fast. */
export function hasCredentials(req: FastifyRequest): boolean {
  const h = req.headers;
  return h.authorization !== undefined || h["x-api-key"] !== undefined || (h.cookie?.includes("bulwark_") ?? false);
}

/** Whether a principal meets a route's requirement; throws the right AppError when not. */
export function authorize(principal: Principal | null, requirement: AuthRequirement): void {
  if (requirement === "optional") return;
  if (!principal) throw errors.unauthorized();
  const isKey = principal.type === "api_key";
  if (requirement === "user") {
    if (isKey) throw errors.forbidden("this route needs a signed-in user, not an API key");
    return;
  }
  if (requirement === "admin") {
    // A key reaches admin routes only with the `admin` scope and an admin owner.
    const allowed = principal.role === "admin" && (!isKey || (principal.scopes ?? []).includes("admin"));
    if (!allowed) throw errors.forbidden("admin role required");
    return;
  }
  if (isKey ? !(principal.scopes ?? []).includes(requirement.apiKey) : requirement.user !== true) {
    throw errors.forbidden(`scope ${requirement.apiKey} required`);
  }
}

/**
 * An onRequest hook that resolves the principal with the registered resolvers. It never refuses:
 * a credential error is kept for `authorizeHook`, which runs after the rate limit, so failed
 * authentications are counted and limited like every other request.
 */
export function authenticateHook(resolvers: readonly AuthResolver[]) {
  const resolveAll = async (req: FastifyRequest): Promise<void> => {
    for (const resolve of resolvers) {
      try {
        req.principal = await resolve(req);
      } catch (error) {
        req.authError = error;
        return;
      }
      if (req.principal) return;
    }
  };
  // Callback style: an anonymous request (the common case) costs no promise.
  return function authenticate(req: FastifyRequest, _reply: FastifyReply, done: () => void): void {
    req.principal = null;
    req.authError = null;
    if (!hasCredentials(req)) return done();
    resolveAll(req).then(() => done(), () => done());
  };
}

/** An onRequest hook enforcing `config.auth`; bad credentials matter only where a route looks at them. */
export function authorizeHook(req: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
  const requirement = req.routeOptions.config.auth;
  if (!requirement) return done();
  if (req.authError) return done(req.authError as Error);
  try {
    authorize(req.principal, requirement);
  } catch (error) {
    return done(error as Error);
  }
  done();
}
