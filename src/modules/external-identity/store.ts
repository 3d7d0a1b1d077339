// SQL of the external identity module: its link table, and nothing else.
import { and, eq } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import { externalIdentities } from "./tables.js";

/** The user linked to (provider, subject), if any. */
export async function findLink(db: Executor, provider: string, subject: string): Promise<string | undefined> {
  const [row] = await db
    .select({ userId: externalIdentities.userId })
    .from(externalIdentities)
    .where(and(eq(externalIdentities.provider, provider), eq(externalIdentities.subject, subject)));
  return row?.userId;
}

/** Links (provider, subject) to a user; false when a concurrent request linked it first. */
export async function insertLink(db: Executor, row: typeof externalIdentities.$inferInsert): Promise<boolean> {
  const rows = await db
    .insert(externalIdentities)
    .values(row)
    .onConflictDoNothing()
    .returning({ userId: externalIdentities.userId });
  return rows.length === 1;
}
