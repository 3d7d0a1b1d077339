// Authentication as a hook point: modules (sessions, API keys, outside identity providers) register
// resolvers that turn credentials into a Principal; this file knows none of them. Routes declare
// `config.auth` and this hook refuses callers that do not meet it.
import type { FastifyRequest } from "fastify";
import { errors } from "../core/errors.js";
import type { AuthRequirement } from "./types.js";

export type Principal = {
  type: "user" | "api_key" | "external";
  userId: string;
  role: "user" | "admin";
  sessionId?: string;
  keyId?: string;
  scopes?: readonly string[];
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

/** An onRequest hook: resolves the principal with the registered resolvers, then enforces `config.auth`. */
export function authHook(resolvers: readonly AuthResolver[]) {
  return async function authenticate(req: FastifyRequest): Promise<void> {
    req.principal = null;
    const requirement = req.routeOptions.config.auth;
    if (hasCredentials(req)) {
      for (const resolve of resolvers) {
        try {
          req.principal = await resolve(req);
        } catch (error) {
          // Bad credentials matter where credentials are required; elsewhere the caller is anonymous.
          if (requirement) throw error;
        }
        if (req.principal) break;
      }
    }
    if (requirement) authorize(req.principal, requirement);
  };
}
