// The external identity module's public surface: the service, its auth resolver, and the link route.
import type { FastifyRequest } from "fastify";
import type { AuthResolver, Principal } from "../../http/types.js";
import { defineModule } from "../module.js";
import { externalRoutes } from "./routes.js";
import { createExternalIdentityService, type ExternalIdentityService } from "./service.js";

export {
  createExternalIdentityService,
  deriveUsername,
  type ExternalIdentityService,
  type ExternalConfig,
} from "./service.js";
export { createJwksCache, type JwksCache } from "./jwks.js";

declare module "../module.js" {
  interface Services {
    /** Undefined unless EXTERNAL_JWT_SECRET or EXTERNAL_JWKS_URL is set. */
    external: ExternalIdentityService | undefined;
  }
}

const BEARER_JWT = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;

/** Resolves bearer tokens whose issuer is the configured provider; every other credential is left alone. */
export function externalResolver(external: ExternalIdentityService): AuthResolver {
  return async (req: FastifyRequest): Promise<Principal | null> => {
    const match = BEARER_JWT.exec(req.headers.authorization ?? "");
    if (!match || !external.claims(match[1]!)) return null;
    return external.resolve(match[1]!);
  };
}

const EVENTS = {
  "user.provision": {
    description: "An outside identity was seen for the first time and got a local account.",
    webhook: { event: "user.created", results: ["success"] },
    targetIsUser: true,
  },
  "external.link": {
    description:
      "A signed-in owner linked an outside identity to their account after a step-up (provider and subject recorded), or was refused because it is already linked.",
  },
} as const;

declare module "../audit/vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof EVENTS, true> {}
}

/** Bearer tokens of an outside identity provider (Supabase, Auth0, Clerk, Keycloak). */
export const externalModule = defineModule({
  name: "external",
  needs: ["accounts", "signin"],
  create: ({ db, clock, audit, metrics, config, logger }, use) =>
    config.external
      ? createExternalIdentityService({
          db,
          clock,
          audit,
          metrics,
          config: config.external,
          ownIssuer: config.publicUrl,
          accounts: use("accounts"),
          stepUp: (userId, proof, meta) => use("signin").stepUp(userId, proof, meta),
          onError: (e) => logger.warn({ err: e.message }, "external identity: JWKS fetch failed"),
        })
      : undefined,
  // First: it takes only tokens bearing its issuer, whereas the sessions resolver refuses every JWT it cannot verify.
  resolver: { order: 10, create: (external) => (external ? externalResolver(external) : undefined) },
  auditEvents: EVENTS,
  routes: (app, external) => externalRoutes(app, external),
});
