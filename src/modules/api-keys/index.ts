// The API keys module's public surface: the service, the auth resolver and the routes.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { errors } from "../../core/errors.js";
import type { AuthResolver, Principal } from "../../http/auth.js";
import { looksLikeKey } from "./format.js";
import { apiKeyRoutes } from "./routes.js";
import type { ApiKeyService } from "./service.js";

export { createApiKeyService, DEFAULT_GRACE_SECONDS, type ApiKeyService, type KeyCreated, type KeyView, type KeyActor } from "./service.js";
export { parseKey, checksum, KEY_PREFIX } from "./format.js";

const BEARER = "Bearer ";

/** Resolves `Authorization: Bearer bwk_…` and `X-API-Key: bwk_…`; other credentials are not its kind. */
export function apiKeyResolver(keys: ApiKeyService): AuthResolver {
  return async (req: FastifyRequest): Promise<Principal | null> => {
    const header = req.headers["x-api-key"];
    const auth = req.headers.authorization;
    const fromBearer = auth !== undefined && auth.startsWith(BEARER) && looksLikeKey(auth.slice(BEARER.length)) ? auth.slice(BEARER.length) : undefined;
    if (header === undefined && fromBearer === undefined) return null;
    // Two different keys in one request: refuse rather than pick one.
    if (Array.isArray(header) || (header !== undefined && fromBearer !== undefined && header !== fromBearer)) throw errors.unauthorized("send one API key, in Authorization or X-API-Key");
    return keys.resolve((header ?? fromBearer)!);
  };
}

/** Registers the API keys routes with the given service. */
export async function apiKeysPlugin(app: FastifyInstance, options: { keys: ApiKeyService }): Promise<void> {
  await apiKeyRoutes(app, options);
}
