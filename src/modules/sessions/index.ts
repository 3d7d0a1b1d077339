// The sessions module's public surface: the service, the cookie jar, the auth resolver and the routes.
import type { FastifyRequest } from "fastify";
import type { AuthResolver, Principal } from "../../http/types.js";
import { defineModule } from "../module.js";
import { createCookieJar, type CookieJar } from "./cookies.js";
import { sessionRoutes } from "./routes.js";
import { createSessionService, type SessionService } from "./service.js";

export {
  createSessionService,
  REUSE_GRACE_MS,
  type SessionService,
  type SessionUser,
  type UserLookup,
  type AccessTokens,
  type TokenPair,
  type ClientMeta,
  type RevokeActor,
} from "./service.js";
export { createCookieJar, type CookieJar } from "./cookies.js";
export { clientMeta, sendPair } from "./routes.js";
export { TokenPair as TokenPairSchema } from "./schema.js";

declare module "../module.js" {
  interface Services {
    sessions: SessionService;
  }
}

/** Ended sessions are kept this long for the user's and the investigator's view, then deleted. */
const SESSION_RETENTION_MS = 30 * 24 * 3_600_000;

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

const EVENTS = {
  "auth.refresh": {
    description: "A refresh token was exchanged for a new pair (failures only: successes are not audited).",
  },
  "auth.token_reuse": {
    description: "A rotated refresh token came back: the session was ended (theft).",
    webhook: { event: "auth.token_reuse", results: ["success", "denied"] },
  },
  "auth.logout": { description: "A user signed out." },
  "session.revoke": {
    description: "A user ended one of their sessions.",
    webhook: { event: "session.revoked", results: ["success"] },
  },
  "session.revoke_others": {
    description: "A user ended all their other sessions.",
    webhook: { event: "session.revoked", results: ["success"] },
  },
  "admin.sessions_revoked": {
    description: "An admin ended every session of a user.",
    webhook: { event: "session.revoked", results: ["success"] },
    targetIsUser: true,
  },
  "session.revoke_operator": {
    description: "An operator ended sessions from the command line.",
    webhook: { event: "session.revoked", results: ["success"] },
    targetIsUser: true,
  },
} as const;

declare module "../audit/vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof EVENTS, true> {}
}

/** Sessions: refresh-token rotation, revocation on every instance, access tokens into principals. */
export const sessionsModule = defineModule({
  name: "sessions",
  needs: ["tokens", "accounts"],
  create: ({ db, clock, audit, pubsub, config, logger }, use) => {
    const accounts = use("accounts");
    return createSessionService({
      db,
      clock,
      audit,
      pubsub,
      tokens: use("tokens"),
      secretKey: config.secretKey,
      refreshTokenTtl: config.refreshTokenTtl,
      accessTokenTtl: config.accessTokenTtl,
      users: (id) => accounts.sessionUser(id),
      jar: createCookieJar({
        publicUrl: config.publicUrl,
        allowedOrigins: config.corsOrigins,
        accessTokenTtl: config.accessTokenTtl,
        refreshTokenTtl: config.refreshTokenTtl,
      }),
      onError: (e) => logger.warn({ err: e.message }, "session revocations: notification or reload failed"),
    });
  },
  routes: (app, sessions) => sessionRoutes(app, sessions),
  // After outside tokens (which take only their own issuer's JWTs): this resolver refuses every JWT it cannot verify.
  resolver: { order: 20, create: (sessions) => sessionResolver(sessions, sessions.jar) },
  auditEvents: EVENTS,
  async onUserDisabled(sessions, tx, userId) {
    const ids = await sessions.revokeUserIn(tx, userId, { reason: "disabled" });
    return { count: ids.length, announce: () => sessions.announce(ids) };
  },
  async onCredentialsRevoked(sessions, tx, userId, why) {
    const ids = await sessions.revokeUserIn(tx, userId, {
      reason: why.reason,
      ...(why.exceptSessionId ? { except: why.exceptSessionId } : {}),
    });
    return { count: ids.length, announce: () => sessions.announce(ids) };
  },
  prune: async (sessions) => ({ sessions: await sessions.prune(SESSION_RETENTION_MS) }),
  start: (sessions) => sessions.init(),
  stop: (sessions) => sessions.close(),
});
