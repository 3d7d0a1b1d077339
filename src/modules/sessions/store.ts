// SQL of the sessions module, and nothing else.
import { and, desc, eq, gt, isNull, lt, ne, or, sql } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import { refreshTokens, sessions } from "./tables.js";

export type SessionRow = typeof sessions.$inferSelect;

/** Inserts a session and its first refresh token. */
export async function insertSession(db: Executor, row: typeof sessions.$inferInsert, tokenHash: string): Promise<void> {
  await db.insert(sessions).values(row);
  await db
    .insert(refreshTokens)
    .values({ tokenHash, sessionId: row.id, createdAt: row.createdAt, expiresAt: row.expiresAt });
}

/** The refresh token and its session, locked for update: concurrent refreshes queue here. */
export async function lockRefreshToken(db: Executor, tokenHash: string) {
  const [row] = await db
    .select({ token: refreshTokens, session: sessions })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .where(eq(refreshTokens.tokenHash, tokenHash))
    .for("update", { of: refreshTokens });
  return row;
}

/** Marks a token as exchanged and stores its successor. */
export async function rotateRefreshToken(
  db: Executor,
  oldHash: string,
  next: { tokenHash: string; sessionId: string; createdAt: Date; expiresAt: Date },
): Promise<void> {
  await db.update(refreshTokens).set({ rotatedAt: next.createdAt }).where(eq(refreshTokens.tokenHash, oldHash));
  await db.insert(refreshTokens).values(next);
}

/** Revokes sessions (not yet revoked) matching the condition; returns their ids. */
async function revokeWhere(db: Executor, where: ReturnType<typeof and>, at: Date, reason: string): Promise<string[]> {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: at, revokeReason: reason })
    .where(and(isNull(sessions.revokedAt), where))
    .returning({ id: sessions.id });
  return rows.map((r) => r.id);
}

export const revokeSession = (db: Executor, id: string, userId: string | undefined, at: Date, reason: string) =>
  revokeWhere(db, userId ? and(eq(sessions.id, id), eq(sessions.userId, userId)) : eq(sessions.id, id), at, reason);

export const revokeUserSessions = (
  db: Executor,
  userId: string,
  exceptId: string | undefined,
  at: Date,
  reason: string,
) =>
  revokeWhere(
    db,
    exceptId ? and(eq(sessions.userId, userId), ne(sessions.id, exceptId)) : eq(sessions.userId, userId),
    at,
    reason,
  );

export const revokeAllSessions = (db: Executor, at: Date, reason: string) => revokeWhere(db, sql`true`, at, reason);

/** A user's sessions that are neither revoked nor expired, newest first. */
export async function activeSessions(db: Executor, userId: string, now: Date): Promise<SessionRow[]> {
  return db
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
    .orderBy(desc(sessions.createdAt));
}

/** Ids of sessions revoked since `since`: their access tokens may still be unexpired. */
export async function revokedSince(db: Executor, since: Date): Promise<string[]> {
  const rows = await db.select({ id: sessions.id }).from(sessions).where(gt(sessions.revokedAt, since));
  return rows.map((r) => r.id);
}

/** The session, for a resolver that has not seen it yet. */
export async function findSession(db: Executor, id: string): Promise<SessionRow | undefined> {
  const [row] = await db.select().from(sessions).where(eq(sessions.id, id));
  return row;
}

/** Records a step-up in a live session. */
export async function markSteppedUp(db: Executor, id: string, at: Date): Promise<void> {
  await db
    .update(sessions)
    .set({ steppedUpAt: at })
    .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)));
}

export async function touchSession(db: Executor, id: string, at: Date): Promise<void> {
  await db.update(sessions).set({ lastUsedAt: at }).where(eq(sessions.id, id));
}

/** Deletes sessions (and, by cascade, their refresh tokens) that expired or were revoked before `before`. */
export async function pruneSessions(db: Executor, before: Date): Promise<number> {
  const rows = await db
    .delete(sessions)
    .where(or(lt(sessions.expiresAt, before), lt(sessions.revokedAt, before)))
    .returning({ id: sessions.id });
  return rows.length;
}
