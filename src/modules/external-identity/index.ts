// The external identity module's public surface: the service and its auth resolver (no routes).
import type { FastifyRequest } from "fastify";
import type { AuthResolver, Principal } from "../../http/auth.js";
import type { ExternalIdentityService } from "./service.js";

export { createExternalIdentityService, deriveUsername, type ExternalIdentityService, type ExternalConfig } from "./service.js";
export { createJwksCache, type JwksCache } from "./jwks.js";

const BEARER_JWT = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;

/** Resolves bearer tokens whose issuer is the configured provider; every other credential is left alone. */
export function externalResolver(external: ExternalIdentityService): AuthResolver {
  return async (req: FastifyRequest): Promise<Principal | null> => {
    const match = BEARER_JWT.exec(req.headers.authorization ?? "");
    if (!match || !external.claims(match[1]!)) return null;
    return external.resolve(match[1]!);
  };
}
