// The tokens module: EdDSA-signed access tokens, their signing keys and the JWKS. This file is its
// only public surface: sessions issue and the authentication resolver verifies through the
// TokenService given to them, and nothing else touches `signing_keys`.
import { defineModule } from "../module.js";
import { tokensRoutes } from "./routes.js";
import { createTokenService, type TokenService } from "./service.js";

export {
  createTokenService,
  KEYS_CHANNEL,
  type Revocation,
  type Rotation,
  type TokenService,
  type TokenServiceDeps,
} from "./service.js";
export { JwksView, PublicJwkView } from "./schema.js";
export type { AccessClaims, IssuedToken, SigningKeyInfo, VerifyFailure } from "./schema.js";
export type { PublicJwk } from "./tables.js";

declare module "../module.js" {
  interface Services {
    tokens: TokenService;
  }
}

const EVENTS = {
  "signing_key.rotate": {
    description:
      "A new access-token signing key became active (the previous one stays published until its tokens expire).",
  },
  "signing_key.revoke": { description: "A signing key was dropped at once: every token it signed is refused." },
} as const;

declare module "../audit/vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof EVENTS, true> {}
}

/** Access tokens and the JWKS that verifies them. */
export const tokensModule = defineModule({
  name: "tokens",
  needs: [],
  create: ({ db, keyring, clock, pubsub, audit, config, metrics, logger, background }) =>
    createTokenService({
      db,
      keyring,
      clock,
      pubsub,
      audit,
      publicUrl: config.publicUrl,
      accessTokenTtl: config.accessTokenTtl,
      onFailure: (reason) => metrics.authFailures.inc({ reason: `token_${reason}` }),
      onError: (e) => logger.warn({ err: e.message }, "signing keys: background reload failed"),
      // A CLI command reads the keys once; only a server keeps reloading them.
      ...(background ? {} : { reloadIntervalMs: 0 }),
    }),
  routes: (app, tokens) => tokensRoutes(app, tokens),
  encryptedColumns: [{ table: "signing_keys", id: "kid", column: "private_key" }],
  auditEvents: EVENTS,
  // A server makes the first signing key if there is none; a command only reads and changes keys.
  start: (tokens, { serving }) => (serving ? tokens.init() : undefined),
  stop: (tokens) => tokens.close(),
});
