// SQL of the external identity module: its link table, and the insert of a provisioned user.
import { and, eq } from "drizzle-orm";
import { users } from "../accounts/tables.js";
import type { Executor } from "../../store/db.js";
import { externalIdentities } from "./tables.js";

/** The user linked to (provider, subject), if any. */
export async function findLink(db: Executor, provider: string, subject: string): Promise<string | undefined> {
  const [row] = await db.select({ userId: externalIdentities.userId }).from(externalIdentities)
    .where(and(eq(externalIdentities.provider, provider), eq(externalIdentities.subject, subject)));
  return row?.userId;
}

/** Inserts a provisioned user (no password); false when the username or email is taken (ON CONFLICT DO NOTHING). */
export async function insertUser(db: Executor, row: typeof users.$inferInsert): Promise<boolean> {
  const rows = await db.insert(users).values(row).onConflictDoNothing().returning({ id: users.id });
  return rows.length === 1;
}

/** Links (provider, subject) to a user; false when a concurrent request linked it first. */
export async function insertLink(db: Executor, row: typeof externalIdentities.$inferInsert): Promise<boolean> {
  const rows = await db.insert(externalIdentities).values(row).onConflictDoNothing().returning({ userId: externalIdentities.userId });
  return rows.length === 1;
}

/** Whether an email (lower-cased) belongs to some user. */
export async function emailTaken(db: Executor, emailKey: string): Promise<boolean> {
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.emailKey, emailKey)).limit(1);
  return rows.length > 0;
}
