// TypeBox schemas of the tokens routes, and the shapes the token service takes and returns.
import { Type, type Static } from "typebox";

/** One public key of the JWKS (RFC 7517, RFC 8037): closed, so a private `d` can never be serialised. */
export const PublicJwkView = Type.Object(
  {
    kty: Type.Literal("OKP"),
    crv: Type.Literal("Ed25519"),
    x: Type.String(),
    kid: Type.String(),
    alg: Type.Literal("EdDSA"),
    use: Type.Literal("sig"),
  },
  { additionalProperties: false },
);
export type PublicJwkView = Static<typeof PublicJwkView>;

export const JwksView = Type.Object(
  {
    keys: Type.Array(PublicJwkView),
  },
  { additionalProperties: false },
);
export type JwksView = Static<typeof JwksView>;

/** What a verified access token says: who (`sub`), in which session (`sid`), and which key signed it. */
export type AccessClaims = { sub: string; sid: string; jti: string; exp: number; iat: number; kid: string };

/** A freshly signed access token; `expiresIn` is in seconds. */
export type IssuedToken = { token: string; expiresIn: number; jti: string; expiresAt: Date };

/** One signing key as `bulwark keys list` shows it (no key material). */
export type SigningKeyInfo = {
  kid: string;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
  publish_until: Date | null;
  revoked_at: Date | null;
  active: boolean;
};

/** Why a token was refused, for metrics and logs only: the client always gets one message. */
export type VerifyFailure =
  | "malformed"
  | "algorithm"
  | "type"
  | "unknown_key"
  | "signature"
  | "issuer"
  | "audience"
  | "expired"
  | "issued_in_future"
  | "claims";
