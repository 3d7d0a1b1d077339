// SQL of the API keys module, and nothing else.
import { and, desc, eq, gt, isNull, lte, or, sql } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import { apiKeys } from "./tables.js";

export type ApiKeyRow = typeof apiKeys.$inferSelect;

export async function insertKey(db: Executor, row: typeof apiKeys.$inferInsert): Promise<void> {
  await db.insert(apiKeys).values(row);
}

/** The key with this id (one indexed look-up by primary key). */
export async function findKey(db: Executor, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return row;
}

/** The key with this id, locked until the transaction ends: concurrent rotations of one key queue here. */
export async function lockKey(db: Executor, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id)).for("update");
  return row;
}

/**
 * Serialises changes to one user's set of keys until the transaction ends (a transaction-scoped
 * advisory lock: no row to lock exists before the first key), so two creations cannot both pass the cap.
 */
export async function lockUserKeys(db: Executor, userId: string): Promise<void> {
  await db.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`api_keys:${userId}`}, 0))`);
}

/** How many keys of a user are neither revoked nor expired. */
export async function countLiveKeys(db: Executor, userId: string, now: Date): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.userId, userId),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now)),
      ),
    );
  return Number(row?.n ?? 0);
}

/** A user's keys that are neither revoked nor expired, newest first. */
export async function liveKeys(db: Executor, userId: string | undefined, now: Date): Promise<ApiKeyRow[]> {
  const live = and(isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now)));
  return db
    .select()
    .from(apiKeys)
    .where(userId ? and(eq(apiKeys.userId, userId), live) : live)
    .orderBy(desc(apiKeys.id));
}

/** Revokes a live key (of `userId`, when given); returns the ids revoked (empty when none matched). */
export async function revokeKey(
  db: Executor,
  id: string,
  userId: string | undefined,
  at: Date,
  reason: string,
  replacedBy?: string,
): Promise<ApiKeyRow[]> {
  const where = userId ? and(eq(apiKeys.id, id), eq(apiKeys.userId, userId)) : eq(apiKeys.id, id);
  return db
    .update(apiKeys)
    .set({ revokedAt: at, revokeReason: reason, updatedAt: at, ...(replacedBy ? { replacedBy } : {}) })
    .where(and(isNull(apiKeys.revokedAt), where))
    .returning();
}

/** Revokes every live key of a user; returns their ids. */
export async function revokeUserKeys(db: Executor, userId: string, at: Date, reason: string): Promise<string[]> {
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: at, revokeReason: reason, updatedAt: at })
    .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  return rows.map((r) => r.id);
}

/** Revokes every live key of a user that carries `scope`; returns the rows revoked. */
export async function revokeUserKeysWithScope(
  db: Executor,
  userId: string,
  scope: string,
  at: Date,
  reason: string,
): Promise<ApiKeyRow[]> {
  return db
    .update(apiKeys)
    .set({ revokedAt: at, revokeReason: reason, updatedAt: at })
    .where(
      and(
        eq(apiKeys.userId, userId),
        isNull(apiKeys.revokedAt),
        sql`${apiKeys.scopes} @> ${JSON.stringify([scope])}::jsonb`,
      ),
    )
    .returning();
}

/** Ends an old key's life at `until` (rotation grace) and records its successor. */
export async function retireKey(db: Executor, id: string, until: Date, replacedBy: string, at: Date): Promise<void> {
  await db
    .update(apiKeys)
    .set({ expiresAt: sql`least(coalesce(${apiKeys.expiresAt}, ${until}), ${until})`, replacedBy, updatedAt: at })
    .where(eq(apiKeys.id, id));
}

/** Marks expired keys whose expiry was not audited yet (all, or one); returns them, each exactly once across instances. */
export async function claimExpired(db: Executor, now: Date, id?: string): Promise<ApiKeyRow[]> {
  const due = and(isNull(apiKeys.expiryRecordedAt), isNull(apiKeys.revokedAt), lte(apiKeys.expiresAt, now));
  return db
    .update(apiKeys)
    .set({ expiryRecordedAt: now, updatedAt: now })
    .where(id ? and(eq(apiKeys.id, id), due) : due)
    .returning();
}

/** Writes last_used_at unless another instance did within the minute. */
export async function touchKey(db: Executor, id: string, at: Date, minIntervalMs: number): Promise<void> {
  await db
    .update(apiKeys)
    .set({ lastUsedAt: at })
    .where(
      and(
        eq(apiKeys.id, id),
        or(isNull(apiKeys.lastUsedAt), lte(apiKeys.lastUsedAt, new Date(at.getTime() - minIntervalMs))),
      ),
    );
}

/** Ids of keys changed since `since`: dropped from the cache in case a notification was lost. */
export async function changedSince(db: Executor, since: Date): Promise<string[]> {
  const rows = await db.select({ id: apiKeys.id }).from(apiKeys).where(gt(apiKeys.updatedAt, since));
  return rows.map((r) => r.id);
}
