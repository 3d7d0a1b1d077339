// The tokens routes: the public keys that verify Bulwark's access tokens.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { JwksView } from "./schema.js";
import type { TokenService } from "./service.js";

/** Registers GET /.well-known/jwks.json. */
export async function tokensRoutes(app: FastifyInstance, tokens: TokenService): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  // Public keys only: the closed response schema serialises exactly kty, crv, x, kid, alg, use.
  r.get(
    "/.well-known/jwks.json",
    {
      schema: { response: { 200: JwksView } },
      config: { auth: "public", rateLimit: "default" },
    },
    async (_req, reply) => {
      // Public data that verifiers poll: let them and shared caches keep it five minutes instead of
      // the global no-store. A rotated-in key is thus seen within 5 min; verifiers that refetch on an
      // unknown kid (jose's createRemoteJWKSet does) see it at once, and retired keys stay published
      // for a whole ACCESS_TOKEN_TTL (at least 60 s) after they stop signing.
      reply.header("cache-control", "public, max-age=300");
      // Other services and origins fetch it: same-origin CORP would block them in browsers.
      reply.header("cross-origin-resource-policy", "cross-origin");
      return tokens.jwks();
    },
  );
}
