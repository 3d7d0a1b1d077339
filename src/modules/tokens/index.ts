// The tokens module: EdDSA-signed access tokens, their signing keys and the JWKS. This file is its
// only public surface: sessions issue and the authentication resolver verifies through the
// TokenService given to them, and nothing else touches `signing_keys`.
import type { FastifyInstance } from "fastify";
import { tokensRoutes } from "./routes.js";
import type { TokenService } from "./service.js";

export { createTokenService, KEYS_CHANNEL, type Revocation, type Rotation, type TokenService, type TokenServiceDeps } from "./service.js";
export { JwksView, PublicJwkView } from "./schema.js";
export type { AccessClaims, IssuedToken, SigningKeyInfo, VerifyFailure } from "./schema.js";
export type { PublicJwk } from "./tables.js";

/** The columns this module encrypts with the keyring, for `bulwark keys rotate-encryption`. */
export const ENCRYPTED_COLUMNS = [{ table: "signing_keys", id: "kid", column: "private_key" }] as const;

export type TokensPluginOptions = { tokens: TokenService };

/** Registers GET /.well-known/jwks.json over the given token service (`app.register(tokensPlugin, { tokens })`). */
export async function tokensPlugin(app: FastifyInstance, options: TokensPluginOptions): Promise<void> {
  await tokensRoutes(app, options.tokens);
}
