// API keys: creation (the key is returned once), listing, rotation with a grace period, revocation,
// and the resolution of a presented key into a principal. A verified key is cached in memory, so a
// request costs no database read; every change (revoke, rotate, expiry, owner disabled) reaches
// every instance's cache through pub/sub before the change is reported done, with a periodic
// reload as the safety net for a lost message.
import { Counter } from "prom-client";
import type { Clock } from "../../core/clock.js";
import { AppError, errors } from "../../core/errors.js";
import { createHmac, createSecretKey, hash, timingSafeEqual } from "node:crypto";
import type { Metrics } from "../../core/metrics.js";
import type { Principal } from "../../http/types.js";
import type { Database, Executor } from "../../store/db.js";
import type { PubSub } from "../../store/pubsub.js";
import { createSharedCache } from "../../store/shared-cache.js";
import type { AuditService } from "../audit/index.js";
import type { AccountService } from "../accounts/index.js";
import { generateKey, keyPrefix, parseKey } from "./format.js";
import * as store from "./store.js";
import type { ApiKeyRow } from "./store.js";

export type ApiKeyDeps = {
  db: Database;
  clock: Clock;
  audit: AuditService;
  pubsub: PubSub;
  metrics: Metrics;
  /** The owner's role and disabled flag (the accounts module's cached lookup). */
  accounts: Pick<AccountService, "sessionUser" | "requireVerifiedEmail">;
  secretKey: string;
  /** Live keys a user may hold (API_KEYS_PER_USER); unlimited when unset. */
  maxKeysPerUser?: number;
  onError?: (error: Error) => void;
};

/** Who performs a change, for the audit row. */
export type KeyActor = { userId: string | null; keyId?: string | null; ip?: string | null; userAgent?: string | null };

export type KeyView = {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  rate_limit_per_minute: number | null;
  user_id: string;
};
export type KeyCreated = Omit<KeyView, "last_used_at"> & { key: string; replaces?: { id: string; expires_at: string } };

export type CreateKeyInput = {
  name: string;
  scopes: string[];
  expires_at?: string | Date | undefined;
  rate_limit_per_minute?: number | undefined;
};

/** Rotation keeps the old key working this long unless told otherwise (docs/api-keys.md). */
export const DEFAULT_GRACE_SECONDS = 86_400;
/** last_used_at is written at most this often per key. */
const TOUCH_INTERVAL_MS = 60_000;
/** How often changed keys are re-read and expiries swept, in case a notification was lost. */
const RELOAD_INTERVAL_MS = 30_000;
const CACHE_MAX = 50_000;
/**
 * An id that is not in the database is remembered as missing this long: a client hammering one
 * made-up, revoked-and-deleted or mistyped key costs a look-up per period, not per request.
 * Creating a key forgets the miss on every instance, so a new key works at once.
 */
const MISS_TTL_MS = 30_000;
/** Longer than any key the format allows: refused before anything is hashed. */
const MAX_KEY_LENGTH = 200;
const CHANNEL = "api_keys.changed";
const REFUSED = "invalid, expired or revoked API key";

type Cached = {
  id: string;
  userId: string;
  /** The stored HMAC's 32 bytes, compared as they are: both sides are always that long. */
  keyHash: Buffer;
  /** The API key use counter. */
  uses: { inc(): void };
  scopes: readonly string[];
  expiresAt: number | null;
  revoked: boolean;
  rateLimitPerMinute: number | null;
};

export type ApiKeyService = ReturnType<typeof createApiKeyService>;

/** The public view of a key row: never the hash. */
function view(row: ApiKeyRow): KeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: keyPrefix(row.id),
    scopes: [...row.scopes],
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt?.toISOString() ?? null,
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    rate_limit_per_minute: row.rateLimitPerMinute,
    user_id: row.userId,
  };
}

/** Builds the API key service; call `init()` before serving. */
export function createApiKeyService(deps: ApiKeyDeps) {
  const { db, clock, audit, pubsub } = deps;
  /** SHA-256 of keys that verified once, to their id: what a cached key costs per request. */
  const verified = new Map<string, string>();
  const touched = new Map<string, number>();
  const timers: NodeJS.Timeout[] = [];
  let lastReload = clock.now();

  // One series for every key together: a label per key id would grow without bound (one series
  // per key ever used, kept until restart). Which key is in use is `last_used_at`, in the database.
  // (A registry shared by two apps in one process already has it.)
  const uses =
    (deps.metrics.registry.getSingleMetric("bulwark_api_key_requests_total") as Counter | undefined) ??
    new Counter({
      name: "bulwark_api_key_requests_total",
      help: "Requests authenticated by an API key (all keys).",
      registers: [deps.metrics.registry],
    });

  // The key object is made once: an HMAC per request is then the only crypto a cached key costs.
  const secretKey = createSecretKey(Buffer.from(deps.secretKey, "utf8"));
  const keyDigest = (key: string) => createHmac("sha256", secretKey).update(key).digest();
  const hashKey = (key: string) => keyDigest(key).toString("hex");

  // Keys by id, the same on every instance: a change anywhere drops the key everywhere.
  const keys = createSharedCache<Cached>({
    pubsub,
    channel: CHANNEL,
    clock,
    max: CACHE_MAX,
    missTtlMs: MISS_TTL_MS,
    ...(deps.onError ? { onError: deps.onError } : {}),
    load: async (id) => {
      const row = await store.findKey(db, id);
      if (!row) return undefined;
      return {
        id: row.id,
        userId: row.userId,
        keyHash: Buffer.from(row.keyHash, "hex"),
        uses,
        scopes: Object.freeze([...row.scopes]),
        expiresAt: row.expiresAt?.getTime() ?? null,
        revoked: row.revokedAt !== null,
        rateLimitPerMinute: row.rateLimitPerMinute,
      };
    },
  });
  const invalidate = keys.drop;
  /** Tells every instance (this one included) that keys changed, and waits for our own echo. */
  const announce = (ids: string[]) => keys.invalidate(...ids);

  /** Audits the expiry of keys (one, or all that are due) exactly once across instances. */
  const recordExpiries = async (id?: string): Promise<number> => {
    const rows = await db.transaction(async (tx) => {
      const claimed = await store.claimExpired(tx, new Date(clock.now()), id);
      for (const row of claimed) {
        await audit.record(
          {
            eventType: "api_key.expire",
            result: "success",
            actor: { userId: null },
            target: row.id,
            metadata: { owner_id: row.userId, name: row.name },
          },
          tx,
        );
      }
      return claimed;
    });
    if (rows.length > 0) invalidate(rows.map((r) => r.id));
    return rows.length;
  };

  const fail = (reason: string): never => {
    deps.metrics.authFailures.inc({ reason: `api_key_${reason}` });
    throw errors.unauthorized(REFUSED);
  };

  const parseExpiry = (value: string | Date | undefined): Date | null => {
    if (value === undefined) return null;
    const at = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(at.getTime()) || at.getTime() <= clock.now())
      throw errors.invalid("expires_at must be a time in the future", [
        { path: "expires_at", message: "must be in the future" },
      ]);
    return at;
  };

  const insertNew = async (
    tx: Executor,
    ownerId: string,
    input: { name: string; scopes: string[]; expiresAt: Date | null; rateLimitPerMinute: number | null },
  ) => {
    const now = clock.now();
    const { id, key } = generateKey(now);
    const row: ApiKeyRow = {
      id,
      userId: ownerId,
      name: input.name,
      keyHash: hashKey(key),
      scopes: input.scopes,
      rateLimitPerMinute: input.rateLimitPerMinute,
      createdAt: new Date(now),
      expiresAt: input.expiresAt,
      lastUsedAt: null,
      revokedAt: null,
      revokeReason: null,
      replacedBy: null,
      expiryRecordedAt: null,
      updatedAt: new Date(now),
    };
    await store.insertKey(tx, row);
    const { last_used_at: _unused, ...rest } = view(row);
    return { row, created: { ...rest, key } satisfies KeyCreated };
  };

  return {
    /** Listens for key changes from other instances and starts the periodic reload and expiry sweep. */
    async init(): Promise<void> {
      await keys.start();
      const reload = async () => {
        const since = lastReload - 60_000;
        const startedAt = clock.now();
        invalidate(await store.changedSince(db, new Date(since)));
        // Advanced only once read: after a database outage the next reload covers all of it.
        lastReload = startedAt;
        await recordExpiries();
      };
      timers.push(
        setInterval(() => {
          reload().catch((error: unknown) => deps.onError?.(error as Error));
        }, RELOAD_INTERVAL_MS),
        setInterval(() => {
          const now = clock.now();
          for (const [id, at] of touched) if (now - at > TOUCH_INTERVAL_MS) touched.delete(id);
        }, 60_000),
      );
      for (const timer of timers) timer.unref();
    },

    /** Stops the background timers. */
    close(): void {
      for (const timer of timers) clearInterval(timer);
    },

    /**
     * Creates a key for `ownerId`; the full key is in the result and nowhere else, ever.
     * `maxRateLimit` caps a key's own limit (the API passes RATE_LIMIT_PER_MINUTE; operators may go higher).
     */
    async create(
      ownerId: string,
      input: CreateKeyInput,
      actor: KeyActor,
      options: { maxRateLimit?: number } = {},
    ): Promise<KeyCreated> {
      const owner = await deps.accounts.sessionUser(ownerId);
      if (!owner || owner.disabled) throw errors.notFound("no such user");
      // A key made over the API needs a proven address: a key minted by whoever registered someone
      // else's address would outlive the owner's reset. An operator (no user actor) vouches for the owner.
      if (actor.userId !== null) await deps.accounts.requireVerifiedEmail(ownerId, "creating an API key");
      // A key is never more powerful than its owner: only an admin may mint an admin-scoped key.
      if (input.scopes.includes("admin") && owner.role !== "admin")
        throw errors.forbidden("only an admin can create a key with the admin scope");
      const limit = input.rate_limit_per_minute ?? null;
      // A user's keys share the user's budget; a key's own budget may not exceed it, or keys would multiply it.
      if (limit !== null && options.maxRateLimit !== undefined && limit > options.maxRateLimit) {
        throw errors.invalid(`rate_limit_per_minute may be at most ${options.maxRateLimit}`, [
          { path: "rate_limit_per_minute", message: `must be at most ${options.maxRateLimit}` },
        ]);
      }
      const expiresAt = parseExpiry(input.expires_at);
      const scopes = [...new Set(input.scopes)];
      const result = await db.transaction(async (tx) => {
        // Each key carries its own budget and is one more secret to leak: a user holds a bounded number.
        if (deps.maxKeysPerUser !== undefined) {
          await store.lockUserKeys(tx, ownerId);
          if ((await store.countLiveKeys(tx, ownerId, new Date(clock.now()))) >= deps.maxKeysPerUser) {
            throw new AppError(
              "too_many_keys",
              `a user may hold at most ${deps.maxKeysPerUser} live API keys; revoke one first`,
            );
          }
        }
        const { created } = await insertNew(tx, ownerId, {
          name: input.name,
          scopes,
          expiresAt,
          rateLimitPerMinute: limit,
        });
        await audit.record(
          {
            eventType: "api_key.create",
            result: "success",
            actor: { userId: actor.userId, keyId: actor.keyId ?? null },
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
            target: created.id,
            metadata: {
              owner_id: ownerId,
              name: input.name,
              scopes,
              expires_at: created.expires_at,
              rate_limit_per_minute: limit,
            },
          },
          tx,
        );
        return created;
      });
      // Should some instance have remembered this id as missing, it forgets that now.
      await announce([result.id]);
      return result;
    },

    /** The live keys of a user, or of everyone (operators), newest first; never a secret. */
    async list(userId?: string): Promise<KeyView[]> {
      return (await store.liveKeys(db, userId, new Date(clock.now()))).map(view);
    },

    /** The live keys of a user read inside the caller's transaction (for a notice); never a secret. */
    async listIn(tx: Executor, userId: string): Promise<KeyView[]> {
      return (await store.liveKeys(tx, userId, new Date(clock.now()))).map(view);
    },

    /** Revokes a key (of `userId` when given); false when there was no such live key. Dead everywhere on return. */
    async revoke(id: string, options: { userId?: string; reason: string; actor: KeyActor }): Promise<boolean> {
      const rows = await db.transaction(async (tx) => {
        const revoked = await store.revokeKey(tx, id, options.userId, new Date(clock.now()), options.reason);
        for (const row of revoked) {
          await audit.record(
            {
              eventType: "api_key.revoke",
              result: "success",
              actor: { userId: options.actor.userId, keyId: options.actor.keyId ?? null },
              ip: options.actor.ip ?? null,
              userAgent: options.actor.userAgent ?? null,
              target: row.id,
              metadata: { owner_id: row.userId, reason: options.reason },
            },
            tx,
          );
        }
        return revoked;
      });
      await announce(rows.map((r) => r.id));
      return rows.length > 0;
    },

    /** Issues a replacement key with the same name, scopes, expiry and limit; the old one works until the grace ends. */
    async rotate(
      id: string,
      options: { userId: string; graceSeconds?: number | undefined; actor: KeyActor },
    ): Promise<KeyCreated> {
      const grace = options.graceSeconds ?? DEFAULT_GRACE_SECONDS;
      const created = await db.transaction(async (tx) => {
        const now = clock.now();
        // Locked until the transaction ends: a concurrent rotation of the same key waits here, then
        // finds it retired and gets 404, so one rotation makes exactly one successor.
        const old = await store.lockKey(tx, id);
        // Someone else's key, a revoked, expired or already rotated one: all "not found", like a key that never existed.
        if (
          !old ||
          old.userId !== options.userId ||
          old.revokedAt ||
          old.replacedBy !== null ||
          (old.expiresAt && old.expiresAt.getTime() <= now)
        )
          throw errors.notFound("no such key");
        const until = new Date(Math.min(now + grace * 1000, old.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY));
        const next = await insertNew(tx, old.userId, {
          name: old.name,
          scopes: old.scopes,
          expiresAt: old.expiresAt,
          rateLimitPerMinute: old.rateLimitPerMinute,
        });
        if (grace === 0) await store.revokeKey(tx, old.id, undefined, new Date(now), "rotated", next.created.id);
        else await store.retireKey(tx, old.id, until, next.created.id, new Date(now));
        await audit.record(
          {
            eventType: "api_key.rotate",
            result: "success",
            actor: { userId: options.actor.userId, keyId: options.actor.keyId ?? null },
            ip: options.actor.ip ?? null,
            userAgent: options.actor.userAgent ?? null,
            target: old.id,
            metadata: { owner_id: old.userId, new_key_id: next.created.id, grace_seconds: grace },
          },
          tx,
        );
        return { ...next.created, replaces: { id: old.id, expires_at: until.toISOString() } };
      });
      await announce([id, created.id]);
      return created;
    },

    /** Revokes every key of a user inside the caller's transaction; `announce` the ids once it has committed. */
    async revokeUserIn(tx: Executor, userId: string, reason: string): Promise<string[]> {
      return store.revokeUserKeys(tx, userId, new Date(clock.now()), reason);
    },

    /**
     * Revokes, inside the caller's transaction, the user's keys that carry the `admin` scope (the
     * owner lost the admin role), auditing each; `announce` the ids once it has committed.
     */
    async revokeAdminKeysIn(tx: Executor, userId: string, actor: KeyActor): Promise<string[]> {
      const rows = await store.revokeUserKeysWithScope(tx, userId, "admin", new Date(clock.now()), "demoted");
      for (const row of rows) {
        await audit.record(
          {
            eventType: "api_key.revoke",
            result: "success",
            actor: { userId: actor.userId, keyId: actor.keyId ?? null },
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
            target: row.id,
            metadata: { owner_id: row.userId, reason: "demoted" },
          },
          tx,
        );
      }
      return rows.map((r) => r.id);
    },

    /** Tells every instance about keys changed in a transaction that has now committed. */
    announce,

    /** Audits keys that expired and were not audited yet (run every 30 s); returns how many. */
    recordExpiries: () => recordExpiries(),

    /**
     * Turns a presented key into a principal. A malformed key or a bad checksum is refused before
     * anything is looked up; a new key is checked against its stored HMAC in constant time, and from
     * then on found by its SHA-256; revocation, expiry and the owner's state are checked from memory
     * on every request, so a request costs no query once the key is cached.
     */
    /** When a key verified by `resolve` expires (ms since the epoch), from the same cache; null: never. */
    expiryOf(id: string): number | null {
      return keys.peek(id)?.expiresAt ?? null;
    },

    async resolve(key: string): Promise<Principal> {
      if (key.length > MAX_KEY_LENGTH) return fail("malformed");
      // A key verified before is found by its SHA-256 (a fifth of an HMAC's cost): finding another
      // string with the same digest is a second preimage of SHA-256. Its entry's state is still
      // checked below on every request.
      const fingerprint = hash("sha256", key);
      const knownId = verified.get(fingerprint);
      let entry = knownId === undefined ? undefined : keys.peek(knownId);
      if (!entry) {
        const id = parseKey(key);
        // A typo or a made-up key never reaches the database.
        if (!id) return fail("malformed");
        entry = keys.peek(id) ?? (await keys.get(id));
        // Compared as HMACs under SECRET_KEY in constant time: the stored value reveals nothing usable.
        // Both are 32-byte HMAC-SHA256 outputs, so timingSafeEqual never sees different lengths.
        if (!entry || !timingSafeEqual(keyDigest(key), entry.keyHash)) return fail("unknown");
        if (verified.size >= CACHE_MAX) verified.delete(verified.keys().next().value as string);
        verified.set(fingerprint, id);
      }
      const id = entry.id;
      if (entry.revoked) return fail("revoked");
      const now = clock.now();
      if (entry.expiresAt !== null && entry.expiresAt <= now) {
        void recordExpiries(id).catch((error: unknown) => deps.onError?.(error as Error));
        return fail("expired");
      }
      // The owner's state comes from the accounts cache, which every instance drops on a change.
      const owner = await deps.accounts.sessionUser(entry.userId);
      if (!owner || owner.disabled) return fail("owner_disabled");
      const last = touched.get(id) ?? 0;
      if (now - last > TOUCH_INTERVAL_MS) {
        touched.set(id, now);
        void store.touchKey(db, id, new Date(now), TOUCH_INTERVAL_MS).catch(() => touched.delete(id));
      }
      entry.uses.inc();
      return {
        type: "api_key",
        userId: entry.userId,
        role: owner.role,
        keyId: id,
        scopes: entry.scopes,
        ...(entry.rateLimitPerMinute !== null ? { rateLimitPerMinute: entry.rateLimitPerMinute } : {}),
      };
    },
  };
}
