// SQL of the files module, and nothing else.
import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import { fileUsage, files } from "./tables.js";

export type FileRow = typeof files.$inferSelect;

/**
 * Adds `bytes` to the user's usage unless that would pass `quota`; true when reserved. One
 * statement: the row lock of the upsert orders concurrent uploads, and each sees the others' bytes.
 */
export async function reserve(db: Executor, userId: string, bytes: number, quota: number): Promise<boolean> {
  if (bytes > quota) return false;
  const rows = await db
    .insert(fileUsage)
    .values({ userId, bytes })
    .onConflictDoUpdate({
      target: fileUsage.userId,
      set: { bytes: sql`${fileUsage.bytes} + excluded.bytes` },
      setWhere: sql`${fileUsage.bytes} + excluded.bytes <= ${quota}`,
    })
    .returning({ bytes: fileUsage.bytes });
  return rows.length === 1;
}

/** Gives back bytes of a deleted file (never below zero). */
export async function release(db: Executor, userId: string, bytes: number): Promise<void> {
  await db
    .update(fileUsage)
    .set({ bytes: sql`greatest(${fileUsage.bytes} - ${bytes}, 0)` })
    .where(eq(fileUsage.userId, userId));
}

/** Bytes the user's files hold. */
export async function usage(db: Executor, userId: string): Promise<number> {
  const [row] = await db.select({ bytes: fileUsage.bytes }).from(fileUsage).where(eq(fileUsage.userId, userId));
  return row?.bytes ?? 0;
}

export async function insertFile(db: Executor, row: typeof files.$inferInsert): Promise<void> {
  await db.insert(files).values(row);
}

export async function findFile(db: Executor, id: string): Promise<FileRow | undefined> {
  const [row] = await db.select().from(files).where(eq(files.id, id));
  return row;
}

/** A user's files, newest first, after the cursor (an id). */
export async function listFiles(
  db: Executor,
  userId: string,
  cursor: string | undefined,
  limit: number,
): Promise<FileRow[]> {
  const where = cursor ? and(eq(files.userId, userId), lt(files.id, cursor)) : eq(files.userId, userId);
  return db.select().from(files).where(where).orderBy(desc(files.id)).limit(limit);
}

/** Deletes the user's file; returns the row deleted, if any. */
export async function deleteFile(db: Executor, id: string, userId: string): Promise<FileRow | undefined> {
  const [row] = await db
    .delete(files)
    .where(and(eq(files.id, id), eq(files.userId, userId)))
    .returning();
  return row;
}

/** Which of these storage keys a row still names. */
export async function keptKeys(db: Executor, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db.select({ key: files.storageKey }).from(files).where(inArray(files.storageKey, keys));
  return new Set(rows.map((r) => r.key));
}
