// The signing keys of access tokens: Ed25519 key pairs, the private half encrypted with the keyring.
import { sql } from "drizzle-orm";
import { check, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/** A public Ed25519 key as a JWK (RFC 8037): never holds the private part `d`. */
export type PublicJwk = { kty: "OKP"; crv: "Ed25519"; x: string; kid: string; alg: "EdDSA"; use: "sig" };

export const signingKeys = pgTable(
  "signing_keys",
  {
    kid: text("kid").primaryKey(),
    alg: text("alg").$type<"EdDSA">().notNull().default("EdDSA"),
    publicJwk: jsonb("public_jwk").$type<PublicJwk>().notNull(),
    // PKCS#8 (PEM) encrypted with the ENCRYPTION_KEYS keyring, bound to (signing_keys, private_key, kid):
    // a database dump alone cannot sign tokens, and an envelope moved to another row does not decrypt.
    privateKey: text("private_key").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    // Null until the key signs.
    activatedAt: timestamp("activated_at", { withTimezone: true, mode: "date" }),
    // Null while the key signs; set when it stops signing (rotation or revocation).
    retiredAt: timestamp("retired_at", { withTimezone: true, mode: "date" }),
    // A retired key stays in the JWKS until every token it signed has expired: retired_at + ACCESS_TOKEN_TTL.
    publishUntil: timestamp("publish_until", { withTimezone: true, mode: "date" }),
    // Set when the key was dropped at once: its tokens stop verifying and it leaves the JWKS.
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    // At most one key signs at any time, whatever instance or command wrote the rows.
    uniqueIndex("signing_keys_one_active")
      .on(sql`(true)`)
      .where(sql`${t.activatedAt} is not null and ${t.retiredAt} is null`),
    check("signing_keys_alg_check", sql`${t.alg} = 'EdDSA'`),
    check("signing_keys_revoked_retired", sql`${t.revokedAt} is null or ${t.retiredAt} is not null`),
  ],
);
