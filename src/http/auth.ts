// Authentication as a hook point: modules (sessions, API keys, outside identity providers) register
// resolvers that turn credentials into a Principal; this file knows none of them. Routes declare
// `config.auth` and this hook refuses callers that do not meet it.
import type { FastifyReply, FastifyRequest } from "fastify";
import { errors } from "../core/errors.js";
import { timingSafeEqualString } from "../core/crypto/index.js";
import type { AuthRequirement, AuthResolver, OperatorToken, Principal } from "./types.js";

export type { AuthResolver, Principal } from "./types.js";

/** Whether the request carries credentials at all: the cheap test that keeps anonymous requests fast. */
export function hasCredentials(req: FastifyRequest): boolean {
  const h = req.headers;
  return h.authorization !== undefined || h["x-api-key"] !== undefined || (h.cookie?.includes("bulwark_") ?? false);
}

/** Whether a principal meets a route's requirement; throws the right AppError when not. */
export function authorize(
  principal: Principal | null,
  requirement: Exclude<AuthRequirement, { token: OperatorToken }>,
): void {
  if (requirement === "optional" || requirement === "public") return;
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
    // Unlimited routes (health, metrics) never pay for resolving credentials, and cannot be used to
    // test stolen ones without being counted.
    if (!hasCredentials(req) || req.routeOptions.config.rateLimit === false) return done();
    resolveAll(req).then(
      () => done(),
      () => done(),
    );
  };
}

/**
 * An onRequest hook enforcing `config.auth`; bad credentials matter only where a route looks at
 * them. Operator tokens (`{ token: "metrics" }`) are compared in constant time with the configured value.
 */
export function authorizeHook(tokens: Readonly<Record<OperatorToken, string>>) {
  const expected = Object.fromEntries(
    Object.entries(tokens).map(([name, value]) => [name, `Bearer ${value}`]),
  ) as Record<OperatorToken, string>;
  return function authorizeRequest(req: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
    const requirement = req.routeOptions.config.auth;
    if (!requirement || requirement === "public") return done();
    if (typeof requirement === "object" && "token" in requirement) {
      const given = req.headers.authorization ?? "";
      return done(
        timingSafeEqualString(given, expected[requirement.token])
          ? undefined
          : errors.unauthorized(`this route needs the ${requirement.token.toUpperCase()}_TOKEN bearer token`),
      );
    }
    if (req.authError) return done(req.authError as Error);
    try {
      authorize(req.principal, requirement);
    } catch (error) {
      return done(error as Error);
    }
    done();
  };
}
