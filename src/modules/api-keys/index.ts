// The API keys module's public surface: the service, the auth resolver and the routes.
import type { FastifyRequest } from "fastify";
import { errors } from "../../core/errors.js";
import type { AuthResolver, Principal } from "../../http/types.js";
import { defineModule } from "../module.js";
import { looksLikeKey } from "./format.js";
import { apiKeyRoutes } from "./routes.js";
import { createApiKeyService, type ApiKeyService } from "./service.js";

export {
  createApiKeyService,
  DEFAULT_GRACE_SECONDS,
  type ApiKeyService,
  type KeyCreated,
  type KeyView,
  type KeyActor,
} from "./service.js";
export { parseKey, checksum, KEY_PREFIX } from "./format.js";

declare module "../module.js" {
  interface Services {
    apiKeys: ApiKeyService;
  }
}

const BEARER = "Bearer ";

/** Resolves `Authorization: Bearer bwk_…` and `X-API-Key: bwk_…`; other credentials are not its kind. */
export function apiKeyResolver(keys: ApiKeyService): AuthResolver {
  return async (req: FastifyRequest): Promise<Principal | null> => {
    const header = req.headers["x-api-key"];
    const auth = req.headers.authorization;
    const fromBearer =
      auth !== undefined && auth.startsWith(BEARER) && looksLikeKey(auth.slice(BEARER.length))
        ? auth.slice(BEARER.length)
        : undefined;
    if (header === undefined && fromBearer === undefined) return null;
    // Two different keys in one request: refuse rather than pick one.
    if (Array.isArray(header) || (header !== undefined && fromBearer !== undefined && header !== fromBearer))
      throw errors.unauthorized("send one API key, in Authorization or X-API-Key");
    return keys.resolve((header ?? fromBearer)!);
  };
}

const EVENTS = {
  "api_key.create": {
    description: "A key was created (its name and scopes; never the key).",
    webhook: { event: "api_key.created", results: ["success"] },
  },
  "api_key.rotate": {
    description: "A key was rotated: a successor was made, the old one expires after the grace period.",
  },
  "api_key.revoke": {
    description: "A key was revoked by its owner or an admin.",
    webhook: { event: "api_key.revoked", results: ["success"] },
  },
  "api_key.expire": { description: "A key reached its expiry (recorded once, across instances)." },
} as const;

declare module "../audit/vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof EVENTS, true> {}
}

/** API keys: scoped, hashed at rest, revocable on every instance at once. */
export const apiKeysModule = defineModule({
  name: "apiKeys",
  needs: ["accounts", "sessions"],
  create: ({ db, clock, audit, pubsub, metrics, config, logger }, use) =>
    createApiKeyService({
      db,
      clock,
      audit,
      pubsub,
      metrics,
      secretKey: config.secretKey,
      accounts: use("accounts"),
      maxKeysPerUser: config.apiKeysPerUser,
      onError: (e) => logger.warn({ err: e.message }, "api keys: notification or reload failed"),
    }),
  routes: (app, keys, use, { config }) =>
    apiKeyRoutes(app, keys, {
      maxRateLimit: config.rateLimit.perMinute,
      sessions: use("sessions"),
      stepUpTtl: config.stepUpTtl,
    }),
  // API keys (bwk_…) are nobody else's credential.
  resolver: { order: 30, create: (keys) => apiKeyResolver(keys) },
  auditEvents: EVENTS,
  async onUserDisabled(keys, tx, userId) {
    const ids = await keys.revokeUserIn(tx, userId, "disabled");
    return { count: ids.length, announce: () => keys.announce(ids) };
  },
  // A password reset proves the address: keys made before it may be a squatter's, so all of them end.
  // A password change leaves keys alive (automation keeps running) but names them in the owner's
  // notice, so a key minted by whoever held the session is seen.
  async onCredentialsRevoked(keys, tx, userId, why) {
    if (why.reason === "password_reset") {
      const ids = await keys.revokeUserIn(tx, userId, "password_reset");
      return { count: ids.length, announce: () => keys.announce(ids) };
    }
    if (why.reason !== "password_change") return undefined;
    const live = await keys.listIn(tx, userId);
    return {
      count: 0,
      announce: async () => undefined,
      kept: live.map((k) => `API key "${k.name.slice(0, 60)}" (${k.prefix}…, created ${k.created_at.slice(0, 10)})`),
    };
  },
  // A key is never more powerful than its owner: keys minted with the admin scope end with the admin
  // role, rather than lie dormant (their scope still reaching `{ apiKey: "admin" }` routes, upstreams
  // and introspection) and wake up on a later promotion. Keys without that scope live on.
  async onAdminRoleRemoved(keys, tx, userId, actor) {
    const ids = await keys.revokeAdminKeysIn(tx, userId, actor);
    return { count: ids.length, announce: () => keys.announce(ids) };
  },
  start: (keys) => keys.init(),
  stop: (keys) => keys.close(),
});
