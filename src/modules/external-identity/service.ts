// Outside identity providers (Supabase, Auth0, Clerk, Keycloak): their bearer tokens are verified
// with jose and turned into principals; a subject seen for the first time gets a user, linked by
// (provider, subject).
//
// Threat model. Each algorithm family is tied to its key type: HS256 verifies only with
// EXTERNAL_JWT_SECRET, RS256/ES256/EdDSA only with keys from EXTERNAL_JWKS_URL, each JWKS key under
// the one algorithm of its type. So `alg: none`, an HS256 token keyed with the provider's public
// key, and a token naming its own key (`jwk`, `jku`, `x5u`) are all refused. `iss`, `aud`, `exp`
// and `nbf` are checked. Accounts are never linked by email (an email is not an identity a
// provider vouches for forever): a provider identity reaches an existing local account only when the
// account's signed-in owner links it (`link`, after a step-up), audited. An email the provider does
// not say is verified is stored with the link and reserves nothing: the new user gets a placeholder
// address, so the address's owner can still register it and no reset link ever reaches this user.
// The admin role needs a verified, ASCII email (accounts' admin-email.ts). A provisioned user has no
// password: password login and password reset refuse it.
import {
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type CryptoKey,
  type JWTHeaderParameters,
  type JWTPayload,
} from "jose";
import type { Clock } from "../../core/clock.js";
import { AppError, errors } from "../../core/errors.js";
import { randomBase62, sha256Hex } from "../../core/crypto/index.js";
import type { Metrics } from "../../core/metrics.js";
import type { Principal } from "../../http/types.js";
import type { Database } from "../../store/db.js";
import type { AuditService } from "../audit/index.js";
import { emailKeyOf, type AccountService } from "../accounts/index.js";
import type { ClientMeta } from "../sessions/index.js";
import { createJwksCache, type JwksCache } from "./jwks.js";
import * as store from "./store.js";

export type ExternalConfig = {
  secret: string | undefined;
  jwksUrl: string | undefined;
  issuer: string;
  audience: string;
};

export type ExternalDeps = {
  db: Database;
  clock: Clock;
  audit: AuditService;
  metrics: Metrics;
  /** Owns the users this module provisions, and their cached role and state. */
  accounts: Pick<AccountService, "provision" | "emailTaken" | "sessionUser">;
  /** The step-up of a signed-in user (password, and a code when two-factor is on): the signin module's. */
  stepUp?: (
    userId: string,
    proof: { password: string | undefined; code: string | undefined },
    meta: ClientMeta,
  ) => Promise<void>;
  config: ExternalConfig;
  /** Bulwark's own issuer (PUBLIC_URL): its access tokens are left to the sessions resolver. */
  ownIssuer: string;
  jwksTimeoutMs?: number;
  onError?: (error: Error) => void;
};

/** What a verified token tells about its subject. */
export type ExternalClaims = {
  sub: string;
  email: string | null;
  emailVerified: boolean;
  preferredUsername: string | null;
};

const HMAC_ALGS = ["HS256"] as const;
const ASYMMETRIC_ALGS = ["RS256", "ES256", "EdDSA"] as const;
/** Tolerated clock difference with the provider, in seconds. */
const CLOCK_TOLERANCE = 30;
const MAX_TOKEN_LENGTH = 8_192;
const LINK_CACHE_MAX = 50_000;
const REFUSED = "invalid or expired token";

export type ExternalIdentityService = ReturnType<typeof createExternalIdentityService>;

/** A safe username from the token: letters, digits, `_` and `-`, 3–40 characters, then a random suffix on retries. */
export function deriveUsername(claims: ExternalClaims, attempt: number): string {
  const source = claims.preferredUsername ?? claims.email?.split("@")[0] ?? "";
  let base = source
    .normalize("NFKD")
    .replace(/[^A-Za-z0-9_-]/g, "")
    .slice(0, 40);
  if (base.length < 3) base = "user";
  return attempt === 0 ? base : `${base}-${randomBase62(6)}`;
}

/** Builds the service for a configured provider. */
export function createExternalIdentityService(deps: ExternalDeps) {
  const { db, clock, audit, config } = deps;
  const hmacKey = config.secret ? new TextEncoder().encode(config.secret) : undefined;
  const jwks: JwksCache | undefined = config.jwksUrl
    ? createJwksCache({
        url: config.jwksUrl,
        clock,
        ...(deps.jwksTimeoutMs ? { timeoutMs: deps.jwksTimeoutMs } : {}),
        ...(deps.onError ? { onError: deps.onError } : {}),
      })
    : undefined;
  const algorithms = [...(hmacKey ? HMAC_ALGS : []), ...(jwks ? ASYMMETRIC_ALGS : [])];
  // subject -> user id: the link never changes once made, so it is read once per instance.
  const links = new Map<string, string>();

  const fail = (reason: string): never => {
    deps.metrics.authFailures.inc({ reason: `external_${reason}` });
    throw errors.unauthorized(REFUSED);
  };

  const keyFor = async (header: JWTHeaderParameters): Promise<CryptoKey | Uint8Array> => {
    // The secret verifies HS256 and nothing else; JWKS keys verify only their own algorithm.
    if (header.alg === "HS256") {
      if (!hmacKey) throw new Error("HS256 is not configured");
      return hmacKey;
    }
    if (!jwks) throw new Error("no JWKS is configured");
    return jwks.key(header);
  };

  const verify = async (token: string): Promise<ExternalClaims> => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keyFor, {
        algorithms,
        issuer: config.issuer,
        audience: config.audience,
        currentDate: new Date(clock.now()),
        clockTolerance: CLOCK_TOLERANCE,
        requiredClaims: ["sub", "exp"],
      }));
    } catch {
      return fail("invalid");
    }
    const { sub, email, email_verified: verified, preferred_username: preferred } = payload as Record<string, unknown>;
    if (typeof sub !== "string" || sub.length === 0 || sub.length > 255) return fail("claims");
    const validEmail =
      typeof email === "string" && email.length <= 254 && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)
        ? email.trim()
        : null;
    return {
      sub,
      email: validEmail,
      // Only the top-level OIDC claim counts, and only `true`: never user-editable metadata (Supabase's user_metadata).
      emailVerified: validEmail !== null && verified === true,
      preferredUsername: typeof preferred === "string" ? preferred : null,
    };
  };

  /** The user linked to this subject, provisioning one on first sight; idempotent under concurrent first requests. */
  const userFor = async (claims: ExternalClaims): Promise<string> => {
    const provider = config.issuer;
    const cached = links.get(claims.sub);
    if (cached) return cached;
    const found = await store.findLink(db, provider, claims.sub);
    if (found) return remember(claims.sub, found);
    // No email in the token (Auth0 access tokens, for one), or one the provider does not vouch for: a
    // unique placeholder in the reserved .invalid domain. An unverified address is kept on the link
    // only: on the user it would reserve the address, and a reset mailed there would hand the
    // account (still reachable through the provider) to whoever owns the mailbox.
    const verifiedEmail = claims.emailVerified ? claims.email : null;
    const email = verifiedEmail ?? `${sha256Hex(`${provider}\n${claims.sub}`).slice(0, 24)}@external.invalid`;
    const emailKey = emailKeyOf(email);
    for (let attempt = 0; attempt < 4; attempt++) {
      const username = deriveUsername(claims, attempt);
      const now = new Date(clock.now());
      const outcome = await db
        .transaction(async (tx) => {
          // The accounts module writes the user (and decides admin by email); we write the link.
          const inserted = await deps.accounts.provision(tx, {
            username,
            email,
            emailVerified: verifiedEmail !== null,
          });
          if (!inserted) return undefined;
          const { id, role } = inserted;
          // The (provider, subject) key decides between concurrent first requests: the loser rolls back its user.
          const link = {
            provider,
            subject: claims.sub,
            userId: id,
            email: claims.email,
            emailVerified: claims.emailVerified,
            how: "provisioned" as const,
            createdAt: now,
          };
          if (!(await store.insertLink(tx, link))) throw new LostRace();
          await audit.record(
            {
              eventType: "user.provision",
              result: "success",
              actor: { userId: id },
              target: id,
              metadata: { provider, subject: claims.sub, email_verified: claims.emailVerified, role },
            },
            tx,
          );
          return id;
        })
        .catch((error: unknown) => {
          if (error instanceof LostRace) return undefined;
          throw error;
        });
      if (outcome) return remember(claims.sub, outcome);
      // Another request may have provisioned this subject meanwhile (its row made ours conflict).
      const linked = await store.findLink(db, provider, claims.sub);
      if (linked) return remember(claims.sub, linked);
      // The email belongs to an account that is not this subject's: never link by email (takeover).
      if (await deps.accounts.emailTaken(emailKey))
        throw errors.conflict(
          "an account with this email already exists; its owner can link this identity to it (POST /api/auth/external/link)",
        );
      // Otherwise the username was taken: the next attempt adds a random suffix.
    }
    throw new AppError("conflict", "could not find a free username for this account");
  };

  const remember = (sub: string, userId: string): string => {
    if (links.size >= LINK_CACHE_MAX) links.delete(links.keys().next().value as string);
    links.set(sub, userId);
    return userId;
  };

  return {
    /**
     * Whether a bearer token is this provider's to verify (its `iss`): anything else is left to
     * the other resolvers, above all Bulwark's own access tokens. Decoding here proves nothing;
     * `resolve` verifies.
     */
    claims(token: string): boolean {
      if (token.length > MAX_TOKEN_LENGTH) return false;
      try {
        const header = decodeProtectedHeader(token);
        const payload = decodeJwt(token);
        if (header.typ === "at+jwt" && payload.iss === deps.ownIssuer) return false;
        return payload.iss === config.issuer;
      } catch {
        return false;
      }
    },

    /** Verifies a provider token and returns the principal of its (possibly new) user. */
    async resolve(token: string): Promise<Principal> {
      const claims = await verify(token);
      const userId = await userFor(claims);
      const user = await deps.accounts.sessionUser(userId);
      if (!user) {
        links.delete(claims.sub);
        return fail("user_gone");
      }
      if (user.disabled) return fail("disabled");
      return { type: "external", userId: user.id, role: user.role };
    },

    /**
     * Links the provider identity of `token` to the signed-in user `userId`, after the step-up: the
     * explicit act of the local account's owner, audited. 409 when the identity is already linked
     * (to this account or another, including a user provisioned for it): links never move.
     */
    async link(
      userId: string,
      token: string,
      proof: { password: string | undefined; code: string | undefined },
      meta: ClientMeta,
    ): Promise<void> {
      if (!deps.stepUp) throw new Error("external identity: linking needs the signin module's step-up");
      await deps.stepUp(userId, proof, meta);
      // A bad provider token here is a bad field, not a bad session: 400, so clients do not sign out.
      const claims = await verify(token).catch(() => {
        throw errors.invalid("token is not a valid token of the identity provider", [
          { path: "token", message: "is invalid or expired" },
        ]);
      });
      const provider = config.issuer;
      const now = new Date(clock.now());
      const linked = await db.transaction(async (tx) => {
        if (
          !(await store.insertLink(tx, {
            provider,
            subject: claims.sub,
            userId,
            email: claims.email,
            emailVerified: claims.emailVerified,
            how: "linked",
            createdAt: now,
          }))
        )
          return false;
        await audit.record(
          {
            eventType: "external.link",
            result: "success",
            actor: { userId },
            ip: meta.ip,
            userAgent: meta.userAgent,
            target: userId,
            metadata: { provider, subject: claims.sub, email_verified: claims.emailVerified },
          },
          tx,
        );
        return true;
      });
      if (!linked) {
        await audit.record({
          eventType: "external.link",
          result: "failure",
          actor: { userId },
          ip: meta.ip,
          userAgent: meta.userAgent,
          target: userId,
          metadata: { provider, subject: claims.sub, reason: "already_linked" },
        });
        throw errors.conflict("this identity is already linked to an account");
      }
      remember(claims.sub, userId);
    },

    /** How many JWKS fetches were started (0 without a JWKS). */
    jwksFetches: () => jwks?.fetches() ?? 0,
  };
}

/** A concurrent request linked this subject first: roll our insert back and use its user. */
class LostRace extends Error {}
