// The sessions module's public surface: the service, the cookie jar, the auth resolver and the routes.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AuthResolver, Principal } from "../../http/auth.js";
import type { CookieJar } from "./cookies.js";
import { sessionRoutes } from "./routes.js";
import type { SessionService } from "./service.js";

export { createSessionService, REUSE_GRACE_MS, type SessionService, type SessionUser, type UserLookup, type AccessTokens, type TokenPair, type ClientMeta } from "./service.js";
export { createCookieJar, type CookieJar } from "./cookies.js";
export { clientMeta, sendPair } from "./routes.js";

/** RFC 6750 bearer credentials; a JWT has exactly two dots (API keys have none and go to their own resolver). */
const BEARER_JWT = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/** Resolves access tokens from the Authorization header, or from the access cookie under the CSRF rule. */
export function sessionResolver(sessions: SessionService, jar: CookieJar): AuthResolver {
  return async (req: FastifyRequest): Promise<Principal | null> => {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const match = BEARER_JWT.exec(header);
      return match ? sessions.resolve(match[1]!) : null;
    }
    const cookies = jar.read(req);
    const token = cookies[jar.names.access];
    if (!token) return null;
    const principal = await sessions.resolve(token);
    jar.checkCsrf(req, cookies);
    return principal;
  };
}

/** Registers the sessions routes with the given service. */
export async function sessionsPlugin(app: FastifyInstance, options: { sessions: SessionService; jar: CookieJar }): Promise<void> {
  await sessionRoutes(app, options);
}
