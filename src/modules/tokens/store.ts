// The tokens module's SQL, and nothing else.
import { and, asc, eq, gt, isNotNull, isNull, or, sql } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import { signingKeys } from "./tables.js";

export type SigningKeyRow = typeof signingKeys.$inferSelect;
export type NewSigningKeyRow = typeof signingKeys.$inferInsert;

/** A fixed advisory-lock key for "the signing keys": "bwsignk1" in ASCII, distinct from the other locks. */
const KEYS_LOCK = 7_095_266_634_489_555_761n;

/** Serialises key creation, rotation and revocation across every connection and instance until the transaction ends. */
export async function lockKeys(tx: Executor): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${KEYS_LOCK.toString()}::bigint)`);
}

/** The key that signs now, if any. */
export async function activeKey(db: Executor): Promise<SigningKeyRow | null> {
  const rows = await db
    .select()
    .from(signingKeys)
    .where(and(isNotNull(signingKeys.activatedAt), isNull(signingKeys.retiredAt)))
    .limit(1);
  return rows[0] ?? null;
}

/** One key by kid, revoked or not. */
export async function findKey(db: Executor, kid: string): Promise<SigningKeyRow | null> {
  const rows = await db.select().from(signingKeys).where(eq(signingKeys.kid, kid)).limit(1);
  return rows[0] ?? null;
}

/** Keys that may still verify tokens at `now`: not revoked, and active or retired but still published. */
export async function usableKeys(db: Executor, now: Date): Promise<SigningKeyRow[]> {
  return db
    .select()
    .from(signingKeys)
    .where(and(isNull(signingKeys.revokedAt), or(isNull(signingKeys.retiredAt), gt(signingKeys.publishUntil, now))))
    .orderBy(asc(signingKeys.createdAt));
}

/** Every key, oldest first. */
export async function allKeys(db: Executor): Promise<SigningKeyRow[]> {
  return db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt), asc(signingKeys.kid));
}

/** Inserts a key row (the caller holds the keys lock). */
export async function insertKey(tx: Executor, row: NewSigningKeyRow): Promise<void> {
  await tx.insert(signingKeys).values(row);
}

/** Stops a key signing; it keeps verifying (and stays published) until `publishUntil`. */
export async function retireKey(tx: Executor, kid: string, at: Date, publishUntil: Date): Promise<void> {
  await tx
    .update(signingKeys)
    .set({ retiredAt: at, publishUntil })
    .where(and(eq(signingKeys.kid, kid), isNull(signingKeys.retiredAt)));
}

/** Drops a key at once: it stops verifying and leaves the JWKS. */
export async function revokeKey(tx: Executor, kid: string, at: Date): Promise<void> {
  await tx
    .update(signingKeys)
    .set({
      revokedAt: at,
      retiredAt: sql`coalesce(${signingKeys.retiredAt}, ${at.toISOString()}::timestamptz)`,
      publishUntil: null,
    })
    .where(and(eq(signingKeys.kid, kid), isNull(signingKeys.revokedAt)));
}
