// SQL of the mfa module, and nothing else.
import { and, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import { mfaChallenges, mfaRecoveryCodes, mfaTotp } from "./tables.js";

export type TotpRow = typeof mfaTotp.$inferSelect;
export type ChallengeRow = typeof mfaChallenges.$inferSelect;

export async function findTotp(db: Executor, userId: string): Promise<TotpRow | undefined> {
  const [row] = await db.select().from(mfaTotp).where(eq(mfaTotp.userId, userId));
  return row;
}

/** Stores a new, not yet enabled secret (replacing an earlier unconfirmed one). */
export async function savePendingTotp(
  db: Executor,
  row: { userId: string; secret: string; createdAt: Date },
): Promise<void> {
  const values = { ...row, enabledAt: null, lastStep: null, failures: 0, lockedUntil: null };
  await db.insert(mfaTotp).values(values).onConflictDoUpdate({ target: mfaTotp.userId, set: values });
}

/** Records `step` as used, only if it is later than every step used before; false for a replay. */
export async function claimStep(db: Executor, userId: string, step: number): Promise<boolean> {
  const rows = await db
    .update(mfaTotp)
    .set({ lastStep: step })
    .where(and(eq(mfaTotp.userId, userId), or(isNull(mfaTotp.lastStep), lt(mfaTotp.lastStep, step))))
    .returning({ userId: mfaTotp.userId });
  return rows.length === 1;
}

export async function enableTotp(db: Executor, userId: string, at: Date): Promise<void> {
  await db.update(mfaTotp).set({ enabledAt: at, failures: 0, lockedUntil: null }).where(eq(mfaTotp.userId, userId));
}

export async function deleteTotp(db: Executor, userId: string): Promise<void> {
  await db.delete(mfaTotp).where(eq(mfaTotp.userId, userId));
  await db.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId));
  await db.delete(mfaChallenges).where(eq(mfaChallenges.userId, userId));
}

/** Counts a wrong code; returns the new count. */
export async function addFailure(
  db: Executor,
  userId: string,
  lockedUntil: (failures: number) => Date | null,
): Promise<number> {
  const [row] = await db
    .update(mfaTotp)
    .set({ failures: sql`${mfaTotp.failures} + 1` })
    .where(eq(mfaTotp.userId, userId))
    .returning({ failures: mfaTotp.failures });
  if (!row) return 0;
  const until = lockedUntil(row.failures);
  if (until) await db.update(mfaTotp).set({ lockedUntil: until }).where(eq(mfaTotp.userId, userId));
  return row.failures;
}

export async function clearFailures(db: Executor, userId: string): Promise<void> {
  await db.update(mfaTotp).set({ failures: 0, lockedUntil: null }).where(eq(mfaTotp.userId, userId));
}

/** Replaces a user's recovery codes. */
export async function replaceRecoveryCodes(db: Executor, userId: string, hashes: string[], at: Date): Promise<void> {
  await db.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId));
  await db.insert(mfaRecoveryCodes).values(hashes.map((codeHash) => ({ codeHash, userId, createdAt: at })));
}

/** Uses a recovery code once: true only for the first use of an unused code of this user. */
export async function useRecoveryCode(db: Executor, userId: string, codeHash: string, at: Date): Promise<boolean> {
  const rows = await db
    .update(mfaRecoveryCodes)
    .set({ usedAt: at })
    .where(
      and(
        eq(mfaRecoveryCodes.codeHash, codeHash),
        eq(mfaRecoveryCodes.userId, userId),
        isNull(mfaRecoveryCodes.usedAt),
      ),
    )
    .returning({ codeHash: mfaRecoveryCodes.codeHash });
  return rows.length === 1;
}

export async function unusedRecoveryCodes(db: Executor, userId: string): Promise<number> {
  const rows = await db
    .select({ codeHash: mfaRecoveryCodes.codeHash })
    .from(mfaRecoveryCodes)
    .where(and(eq(mfaRecoveryCodes.userId, userId), isNull(mfaRecoveryCodes.usedAt)));
  return rows.length;
}

export async function insertChallenge(db: Executor, row: typeof mfaChallenges.$inferInsert): Promise<void> {
  await db.insert(mfaChallenges).values(row);
}

/** Takes one attempt of a live challenge (fewer than `max` taken, unexpired, unused); undefined when none is left. */
export async function takeAttempt(
  db: Executor,
  tokenHash: string,
  max: number,
  now: Date,
): Promise<ChallengeRow | undefined> {
  const [row] = await db
    .update(mfaChallenges)
    .set({ attempts: sql`${mfaChallenges.attempts} + 1` })
    .where(
      and(
        eq(mfaChallenges.tokenHash, tokenHash),
        isNull(mfaChallenges.consumedAt),
        gt(mfaChallenges.expiresAt, now),
        lt(mfaChallenges.attempts, max),
      ),
    )
    .returning();
  return row;
}

/** Marks a challenge used; false when it already was (two verifications racing). */
export async function consumeChallenge(db: Executor, tokenHash: string, now: Date): Promise<boolean> {
  const rows = await db
    .update(mfaChallenges)
    .set({ consumedAt: now })
    .where(and(eq(mfaChallenges.tokenHash, tokenHash), isNull(mfaChallenges.consumedAt)))
    .returning({ tokenHash: mfaChallenges.tokenHash });
  return rows.length === 1;
}
