// The token service: signs access tokens with the active Ed25519 key, verifies them, publishes the
// public keys (JWKS), and rotates or revokes signing keys across every instance.
//
// Threat model. Verification trusts nothing in a token but its bytes and our keys: the algorithm
// list is fixed to EdDSA (no `none`, no HS256 keyed with our public key), the header's `kid` only
// picks among keys we hold (never `jku`, `jwk` or `x5u`), and `typ`, `iss`, `aud`, `exp`, `iat`
// are checked on every token. Private keys are encrypted at rest with the keyring and only the
// active one is ever decrypted. Revocation removes a key from memory before anything else, on
// every instance (pub/sub, with a periodic reload as the safety net for lost messages).
import { generateKeyPairSync } from "node:crypto";
import {
  errors as joseErrors,
  importJWK,
  importPKCS8,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWTHeaderParameters,
} from "jose";
import type { Clock } from "../../core/clock.js";
import { randomBase62, randomToken, type Keyring } from "../../core/crypto/index.js";
import { errors } from "../../core/errors.js";
import type { Database, Executor } from "../../store/db.js";
import type { PubSub } from "../../store/pubsub.js";
import type { AuditService } from "../audit/index.js";
import type { AccessClaims, IssuedToken, JwksView, SigningKeyInfo, VerifyFailure } from "./schema.js";
import * as store from "./store.js";
import type { PublicJwk } from "./tables.js";

export type TokenService = {
  /** Ensures exactly one active key exists, loads the keys, and listens for changes from other instances. */
  init(): Promise<void>;
  /** Signs an access token for a user (`sub`) in a session (`sid`), valid for ACCESS_TOKEN_TTL seconds. */
  issue(subject: { sub: string; sid: string }): Promise<IssuedToken>;
  /**
   * Signs a short-lived token for a service behind Bulwark (the gateway's identity token), with the
   * active key: its own `typ` and audience, so it is never accepted as an access token, and at most 60 s.
   */
  signInternal(
    claims: Record<string, unknown>,
    options: { typ: string; audience: string; ttlSeconds: number },
  ): Promise<string>;
  /** Verifies an access token; every failure is the same `unauthorized` AppError. */
  verify(token: string): Promise<AccessClaims>;
  /** The public keys that may have signed a token still valid: the active key and retired ones still published. */
  jwks(): JwksView;
  /** Makes a new key active; the previous one keeps verifying (and stays published) until its tokens expire. */
  rotate(via?: string): Promise<Rotation>;
  /** Drops a key at once on every instance; revoking the active key rotates first so signing never stops. */
  revoke(kid: string, via?: string): Promise<Revocation>;
  /** Every key, oldest first, with its dates (no key material). */
  list(): Promise<SigningKeyInfo[]>;
  /** Stops the periodic reload and ignores further notifications. */
  close(): void;
};

/** The new active key, and the one it replaced (null when there was none) with the end of its publication. */
export type Rotation = { kid: string; retired: { kid: string; publishUntil: Date } | null };

/** What a revocation did: `replacedBy` is the new active key when the revoked key was the active one. */
export type Revocation = { kid: string; alreadyRevoked: boolean; replacedBy: string | null };

export type TokenServiceDeps = {
  db: Database;
  /** Records rotations and revocations in the transaction that makes them. */
  audit: AuditService;
  keyring: Keyring;
  clock: Clock;
  pubsub: PubSub;
  /** PUBLIC_URL: the `iss` of every token; the audience is `${publicUrl}/api`. */
  publicUrl: string;
  /** ACCESS_TOKEN_TTL, in seconds. */
  accessTokenTtl: number;
  /** Called once per refused token with the reason, for metrics; the client never sees it. */
  onFailure?: (reason: VerifyFailure) => void;
  /** Background failures (a reload or a notification that could not be sent). */
  onError?: (error: Error) => void;
  /** Verified tokens remembered (default 10,000; 0 turns the cache off). */
  cacheSize?: number;
  /** How often keys are reloaded from the database whatever pub/sub said (default 60 s; 0 never). */
  reloadIntervalMs?: number;
};

/** The pub/sub channel that tells every instance the signing keys changed. */
export const KEYS_CHANNEL = "tokens.keys";

const ALG = "EdDSA";
const TYP = "at+jwt";
/** Tolerated clock difference between instances for `iat`, in seconds. */
const IAT_SKEW = 60;
/** An unknown `kid` reloads keys from the database at most this often: garbage cannot hammer the database. */
const UNKNOWN_KID_REFRESH_MS = 5_000;
/** Ours are ~400 characters; anything far longer is refused before it is parsed. */
const MAX_TOKEN_LENGTH = 4_096;
const REFUSED = "invalid or expired access token";

type LoadedKey = {
  kid: string;
  jwk: PublicJwk;
  verifyKey: CryptoKey;
  /** Epoch ms after which the key neither verifies nor is published; null while it signs. */
  publishUntil: number | null;
  retiredAt: number | null;
};

type KeysMessage = { event: "rotate" | "revoke"; kid: string };

/** A refusal decided by us rather than by jose, carrying its reason. */
class Refused extends Error {
  constructor(readonly reason: VerifyFailure) {
    super(reason);
  }
}

/** Builds the token service; call `init()` before issuing or verifying. */
export function createTokenService(deps: TokenServiceDeps): TokenService {
  const { db, keyring, clock, pubsub, publicUrl, accessTokenTtl } = deps;
  const issuer = publicUrl;
  const audience = `${publicUrl}/api`;
  const cacheSize = deps.cacheSize ?? 10_000;
  const reloadIntervalMs = deps.reloadIntervalMs ?? 60_000;
  const reportError = (error: unknown) => deps.onError?.(error instanceof Error ? error : new Error(String(error)));

  let keys = new Map<string, LoadedKey>();
  let signer: { kid: string; key: CryptoKey } | null = null;
  // Kids dropped on a revocation notice -> the last load started before the drop. Such a load may
  // have read the database before the revocation committed, so it must not bring the key back;
  // a load started after the drop reads the committed state, which is the truth from then on.
  const revoked = new Map<string, number>();
  let loadSeq = 0;
  let appliedSeq = 0;
  let lastUnknownKidRefresh = Number.NEGATIVE_INFINITY;
  let pendingRefresh: Promise<void> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let subscribed = false;
  let closed = false;

  // Exact token string -> its verified claims. Safe because a hit is the same bytes as a token that
  // passed full verification: same bytes = same header, claims and signature, so alg, typ, kid,
  // iss, aud and the signature need no second look. What can change is time and key state, and
  // those are re-checked on every hit (exp, iat, the kid still held and published); revocation also
  // drops the kid's entries. Only verified tokens enter, so an attacker cannot fill it with garbage.
  const cache = new Map<string, AccessClaims>();

  const usableKey = (kid: string, nowMs: number): LoadedKey | undefined => {
    const key = keys.get(kid);
    return key && (key.publishUntil === null || key.publishUntil > nowMs) ? key : undefined;
  };

  const stillValid = (claims: AccessClaims, nowMs: number): boolean => {
    const now = Math.floor(nowMs / 1000);
    // The same comparisons jose makes (exp <= now is expired), so a hit and a full check agree.
    return claims.exp > now && claims.iat <= now + IAT_SKEW && usableKey(claims.kid, nowMs) !== undefined;
  };

  const dropCached = (kid: string | null) => {
    for (const [token, claims] of cache)
      if (kid === null ? !keys.has(claims.kid) : claims.kid === kid) cache.delete(token);
  };

  /** Removes a key from memory at once: its tokens fail from the next verify on. */
  const dropKey = (kid: string) => {
    revoked.set(kid, loadSeq);
    keys.delete(kid);
    if (signer?.kid === kid) signer = null;
    dropCached(kid);
  };

  /** Reads the usable keys from the database and swaps them in (importing only keys not held yet). */
  const load = async (): Promise<void> => {
    const seq = ++loadSeq;
    const now = clock.now();
    const rows = await store.usableKeys(db, new Date(now));
    const next = new Map<string, LoadedKey>();
    let nextSigner: typeof signer = null;
    for (const row of rows) {
      const held = keys.get(row.kid);
      const verifyKey = held?.verifyKey ?? ((await importJWK(publicOnly(row.publicJwk), ALG)) as CryptoKey);
      next.set(row.kid, {
        kid: row.kid,
        jwk: publicOnly(row.publicJwk),
        verifyKey,
        publishUntil: row.retiredAt === null ? null : (row.publishUntil?.getTime() ?? 0),
        retiredAt: row.retiredAt?.getTime() ?? null,
      });
      if (row.activatedAt !== null && row.retiredAt === null) {
        // Only the active key's private half is ever decrypted (once), and it is imported non-extractable.
        nextSigner =
          signer?.kid === row.kid
            ? signer
            : {
                kid: row.kid,
                key: await importPKCS8(keyring.decryptString(row.privateKey, privateKeyContext(row.kid)), ALG),
              };
      }
    }
    // A slower, older load must not overwrite a newer one.
    if (seq < appliedSeq) return;
    appliedSeq = seq;
    for (const [kid, lastLoadBefore] of revoked) {
      if (seq <= lastLoadBefore) next.delete(kid);
      else revoked.delete(kid);
    }
    if (nextSigner && !next.has(nextSigner.kid)) nextSigner = null;
    keys = next;
    signer = nextSigner;
    dropCached(null);
  };

  const reload = () => load().catch(reportError);

  /** An unknown kid may be a key just made on another instance: look again, at most every 5 s. */
  const refreshForUnknownKid = async (): Promise<void> => {
    if (pendingRefresh) return pendingRefresh;
    const now = clock.now();
    if (now - lastUnknownKidRefresh < UNKNOWN_KID_REFRESH_MS) return;
    lastUnknownKidRefresh = now;
    pendingRefresh = reload().finally(() => {
      pendingRefresh = null;
    });
    return pendingRefresh;
  };

  const onMessage = (message: string) => {
    if (closed) return;
    let parsed: Partial<KeysMessage> | null = null;
    try {
      parsed = JSON.parse(message) as Partial<KeysMessage>;
    } catch {
      parsed = null;
    }
    // A revocation takes effect before the reload: fail closed while the database is read.
    if (parsed?.event === "revoke" && typeof parsed.kid === "string") dropKey(parsed.kid);
    void reload();
  };

  const announce = async (message: KeysMessage): Promise<void> => {
    // The change is committed; if Redis is down, other instances still pick it up at their next
    // periodic reload, so report rather than fail.
    await pubsub.publish(KEYS_CHANNEL, JSON.stringify(message)).catch(reportError);
  };

  /** Inserts a new active key (the caller holds the keys lock and retired the previous one). */
  const createActiveKey = async (tx: Executor, now: Date): Promise<string> => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const { x } = publicKey.export({ format: "jwk" });
    if (typeof x !== "string") throw new Error("Ed25519 public key export has no x");
    const kid = newKid(now);
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    await store.insertKey(tx, {
      kid,
      alg: ALG,
      publicJwk: { kty: "OKP", crv: "Ed25519", x, kid, alg: ALG, use: "sig" },
      privateKey: keyring.encrypt(pem, privateKeyContext(kid)),
      createdAt: now,
      activatedAt: now,
    });
    return kid;
  };

  /** Retires the active key (published until its last token expires) and makes a new one active. */
  const rotateIn = async (tx: Executor, now: Date): Promise<Rotation> => {
    const current = await store.activeKey(tx);
    let retired: Rotation["retired"] = null;
    if (current) {
      retired = { kid: current.kid, publishUntil: new Date(now.getTime() + accessTokenTtl * 1000) };
      await store.retireKey(tx, current.kid, now, retired.publishUntil);
    }
    return { kid: await createActiveKey(tx, now), retired };
  };

  const fail = (reason: VerifyFailure): never => {
    deps.onFailure?.(reason);
    throw errors.unauthorized(REFUSED);
  };

  const verifyFully = async (token: string, nowMs: number): Promise<AccessClaims> => {
    let kid = "";
    const { payload } = await jwtVerify(
      token,
      async (header: JWTHeaderParameters) => {
        // The kid only selects among keys we hold; keys named or embedded by the token are never used.
        if (typeof header.kid !== "string" || header.kid === "") throw new Refused("unknown_key");
        kid = header.kid;
        let key = usableKey(kid, nowMs);
        if (!key && !revoked.has(kid)) {
          await refreshForUnknownKid();
          key = usableKey(kid, nowMs);
        }
        if (!key) throw new Refused("unknown_key");
        return key.verifyKey;
      },
      {
        // Exactly one algorithm: `none` and HS256 (keyed with our public key) are refused before any key is used.
        algorithms: [ALG],
        typ: TYP,
        issuer,
        audience,
        currentDate: new Date(nowMs),
        requiredClaims: ["iss", "aud", "sub", "sid", "jti", "iat", "exp"],
      },
    );
    const { sub, sid, jti, iat, exp } = payload as Record<string, unknown>;
    if (!nonEmpty(sub) || !nonEmpty(sid) || !nonEmpty(jti) || !Number.isInteger(iat) || !Number.isInteger(exp))
      throw new Refused("claims");
    if ((iat as number) > Math.floor(nowMs / 1000) + IAT_SKEW) throw new Refused("issued_in_future");
    // The key may have been revoked while the signature was checked.
    if (!usableKey(kid, clock.now())) throw new Refused("unknown_key");
    const claims = Object.freeze({ sub, sid, jti, iat: iat as number, exp: exp as number, kid });
    // We never sign `nbf`; a token with one is not remembered, so the cache needs no nbf check.
    if (cacheSize > 0 && payload.nbf === undefined) {
      if (cache.size >= cacheSize) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      cache.set(token, claims);
    }
    return claims;
  };

  return {
    async init() {
      if (started) return;
      // Listen first, so a change made between our load and the subscription is not missed.
      if (!subscribed) {
        subscribed = true;
        await pubsub.subscribe(KEYS_CHANNEL, onMessage);
        // A rotation or revocation announced while our subscription was down: re-read the keys.
        pubsub.onResubscribed(() => void reload());
      }
      await db.transaction(async (tx) => {
        // Several instances starting at once: the first creates the key, the others find it.
        await store.lockKeys(tx);
        if (!(await store.activeKey(tx))) await createActiveKey(tx, new Date(clock.now()));
      });
      await load();
      if (!signer) throw new Error("no active signing key could be loaded");
      started = true;
      if (reloadIntervalMs > 0) {
        timer = setInterval(() => void reload(), reloadIntervalMs);
        timer.unref();
      }
    },

    async issue({ sub, sid }) {
      if (!nonEmpty(sub) || !nonEmpty(sid)) throw new Error("issue: sub and sid must be non-empty strings");
      if (!signer) await load();
      const current = signer;
      if (!current) throw new Error("no active signing key: call init() first");
      const iat = Math.floor(clock.now() / 1000);
      const exp = iat + accessTokenTtl;
      const jti = randomToken(16);
      const token = await new SignJWT({ sid })
        .setProtectedHeader({ alg: ALG, typ: TYP, kid: current.kid })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(sub)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(jti)
        .sign(current.key);
      return { token, expiresIn: accessTokenTtl, jti, expiresAt: new Date(exp * 1000) };
    },

    async signInternal(claims, { typ, audience: internalAudience, ttlSeconds }) {
      // An internal token that outlives a minute would outlive a revocation by as much.
      if (typ === TYP || internalAudience === audience)
        throw new Error("signInternal: an internal token needs its own typ and audience");
      if (!(ttlSeconds > 0 && ttlSeconds <= 60)) throw new Error("signInternal: ttlSeconds must be between 1 and 60");
      if (!signer) await load();
      const current = signer;
      if (!current) throw new Error("no active signing key: call init() first");
      const iat = Math.floor(clock.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: ALG, typ, kid: current.kid })
        .setIssuer(issuer)
        .setAudience(internalAudience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSeconds)
        .setJti(randomToken(12))
        .sign(current.key);
    },

    async verify(token) {
      if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return fail("malformed");
      const nowMs = clock.now();
      const hit = cache.get(token);
      if (hit) {
        if (stillValid(hit, nowMs)) return hit;
        cache.delete(token);
      }
      try {
        return await verifyFully(token, nowMs);
      } catch (error) {
        return fail(reasonOf(error));
      }
    },

    jwks() {
      const now = clock.now();
      const published = [...keys.values()]
        .filter((key) => key.publishUntil === null || key.publishUntil > now)
        // The active key first, then retired keys newest first.
        .sort((a, b) =>
          (a.retiredAt ?? Number.POSITIVE_INFINITY) > (b.retiredAt ?? Number.POSITIVE_INFINITY) ? -1 : 1,
        );
      return { keys: published.map((key) => ({ ...key.jwk })) };
    },

    async rotate(via = "cli") {
      const now = new Date(clock.now());
      const rotation = await db.transaction(async (tx) => {
        await store.lockKeys(tx);
        const result = await rotateIn(tx, now);
        await deps.audit.record(
          {
            eventType: "signing_key.rotate",
            result: "success",
            target: result.kid,
            metadata: {
              via,
              retired_kid: result.retired?.kid ?? null,
              publish_until: result.retired?.publishUntil.toISOString() ?? null,
            },
          },
          tx,
        );
        return result;
      });
      await load();
      await announce({ event: "rotate", kid: rotation.kid });
      return rotation;
    },

    async revoke(kid, via = "cli") {
      const now = new Date(clock.now());
      const revocation = await db.transaction(async (tx): Promise<Revocation> => {
        await store.lockKeys(tx);
        const row = await store.findKey(tx, kid);
        if (!row) throw errors.notFound("no signing key with this kid");
        if (row.revokedAt !== null) return { kid, alreadyRevoked: true, replacedBy: null };
        const replacedBy = row.activatedAt !== null && row.retiredAt === null ? (await rotateIn(tx, now)).kid : null;
        await store.revokeKey(tx, kid, now);
        await deps.audit.record(
          {
            eventType: "signing_key.revoke",
            result: "success",
            target: kid,
            metadata: { via, replaced_by: replacedBy },
          },
          tx,
        );
        return { kid, alreadyRevoked: false, replacedBy };
      });
      dropKey(kid);
      await load();
      await announce({ event: "revoke", kid });
      return revocation;
    },

    async list() {
      const rows = await store.allKeys(db);
      return rows.map((row) => ({
        kid: row.kid,
        created_at: row.createdAt,
        activated_at: row.activatedAt,
        retired_at: row.retiredAt,
        publish_until: row.publishUntil,
        revoked_at: row.revokedAt,
        active: row.activatedAt !== null && row.retiredAt === null,
      }));
    },

    close() {
      closed = true;
      if (timer) clearInterval(timer);
    },
  };
}

/**
 * A key id an operator can read and type: the creation date, then 10 random base62 characters
 * (59 bits) so two keys never collide. Short enough that logs and audit metadata keep it whole.
 */
function newKid(now: Date): string {
  return `${now.toISOString().slice(0, 10).replace(/-/g, "")}-${randomBase62(10)}`;
}

function privateKeyContext(kid: string) {
  return { table: "signing_keys", column: "private_key", row: kid };
}

/** The public members only, whatever the stored JSON holds: a `d` can never reach the JWKS. */
function publicOnly(jwk: PublicJwk): PublicJwk {
  return { kty: "OKP", crv: "Ed25519", x: jwk.x, kid: jwk.kid, alg: "EdDSA", use: "sig" };
}

function nonEmpty(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

/** The metrics reason of a refusal; never shown to the client. */
function reasonOf(error: unknown): VerifyFailure {
  if (error instanceof Refused) return error.reason;
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) return "algorithm";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "signature";
  if (error instanceof joseErrors.JWTExpired) return "expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "typ":
        return "type";
      case "iss":
        return "issuer";
      case "aud":
        return "audience";
      default:
        return "claims";
    }
  }
  return "malformed";
}
