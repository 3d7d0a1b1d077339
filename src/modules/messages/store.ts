// SQL of the messages module, and nothing else.
import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import { rowsOf } from "../../store/db.js";
import { conversationMembers, conversations, messages, userBlocks } from "./tables.js";

export type ConversationRow = typeof conversations.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;

export async function insertConversation(
  db: Executor,
  row: typeof conversations.$inferInsert,
  members: string[],
  at: Date,
): Promise<boolean> {
  const inserted = await db.insert(conversations).values(row).onConflictDoNothing().returning({ id: conversations.id });
  if (inserted.length === 0) return false;
  await db
    .insert(conversationMembers)
    .values(members.map((userId) => ({ conversationId: row.id, userId, joinedAt: at })));
  return true;
}

export async function findDirect(db: Executor, directKey: string): Promise<ConversationRow | undefined> {
  const [row] = await db.select().from(conversations).where(eq(conversations.directKey, directKey));
  return row;
}

/** The conversation, only when `userId` is one of its members. */
export async function findForMember(db: Executor, id: string, userId: string): Promise<ConversationRow | undefined> {
  const [row] = await db
    .select({ c: conversations })
    .from(conversations)
    .innerJoin(
      conversationMembers,
      and(eq(conversationMembers.conversationId, conversations.id), eq(conversationMembers.userId, userId)),
    )
    .where(eq(conversations.id, id));
  return row?.c;
}

export async function memberIds(db: Executor, conversationId: string): Promise<string[]> {
  const rows = await db
    .select({ userId: conversationMembers.userId })
    .from(conversationMembers)
    .where(eq(conversationMembers.conversationId, conversationId))
    .orderBy(conversationMembers.userId);
  return rows.map((r) => r.userId);
}

/** Members of several conversations at once, by conversation id. */
export async function membersOf(db: Executor, ids: string[]): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return map;
  const rows = await db
    .select()
    .from(conversationMembers)
    .where(inArray(conversationMembers.conversationId, ids))
    .orderBy(conversationMembers.userId);
  for (const r of rows) map.get(r.conversationId)?.push(r.userId);
  return map;
}

/** A user's conversations, newest first, after the cursor (a conversation id). */
export async function listForMember(
  db: Executor,
  userId: string,
  cursor: string | undefined,
  limit: number,
): Promise<ConversationRow[]> {
  const where = cursor
    ? and(eq(conversationMembers.userId, userId), lt(conversationMembers.conversationId, cursor))
    : eq(conversationMembers.userId, userId);
  const rows = await db
    .select({ c: conversations })
    .from(conversationMembers)
    .innerJoin(conversations, eq(conversations.id, conversationMembers.conversationId))
    .where(where)
    .orderBy(desc(conversationMembers.conversationId))
    .limit(limit);
  return rows.map((r) => r.c);
}

export async function addMember(db: Executor, conversationId: string, userId: string, at: Date): Promise<boolean> {
  const rows = await db
    .insert(conversationMembers)
    .values({ conversationId, userId, joinedAt: at })
    .onConflictDoNothing()
    .returning({ userId: conversationMembers.userId });
  return rows.length === 1;
}

export async function removeMember(db: Executor, conversationId: string, userId: string): Promise<boolean> {
  const rows = await db
    .delete(conversationMembers)
    .where(and(eq(conversationMembers.conversationId, conversationId), eq(conversationMembers.userId, userId)))
    .returning({ userId: conversationMembers.userId });
  return rows.length === 1;
}

export async function insertMessage(db: Executor, row: typeof messages.$inferInsert): Promise<void> {
  await db.insert(messages).values(row);
}

export async function findMessage(db: Executor, conversationId: string, id: string): Promise<MessageRow | undefined> {
  const [row] = await db
    .select()
    .from(messages)
    .where(and(eq(messages.conversationId, conversationId), eq(messages.id, id)));
  return row;
}

export async function updateBody(
  db: Executor,
  id: string,
  authorId: string,
  body: string,
  editedAt: Date,
): Promise<boolean> {
  const rows = await db
    .update(messages)
    .set({ body, editedAt })
    .where(and(eq(messages.id, id), eq(messages.authorId, authorId)))
    .returning({ id: messages.id });
  return rows.length === 1;
}

export async function deleteMessage(
  db: Executor,
  conversationId: string,
  id: string,
  authorId: string,
): Promise<boolean> {
  const rows = await db
    .delete(messages)
    .where(and(eq(messages.conversationId, conversationId), eq(messages.id, id), eq(messages.authorId, authorId)))
    .returning({ id: messages.id });
  return rows.length === 1;
}

/**
 * A page of a conversation's history, newest first, strictly before the cursor, leaving out
 * authors the viewer blocked. Keyset pagination on (conversation_id, id): the index is entered at
 * the cursor, so a deep page costs what the first does, and messages inserted meanwhile (newer ids)
 * never shift a page.
 */
export async function history(
  db: Executor,
  conversationId: string,
  viewerId: string,
  before: string | undefined,
  limit: number,
): Promise<MessageRow[]> {
  const blocked = sql`not exists (select 1 from ${userBlocks} where ${userBlocks.blockerId} = ${viewerId} and ${userBlocks.blockedId} = ${messages.authorId})`;
  const where = before
    ? and(eq(messages.conversationId, conversationId), lt(messages.id, before), blocked)
    : and(eq(messages.conversationId, conversationId), blocked);
  return db.select().from(messages).where(where).orderBy(desc(messages.id)).limit(limit);
}

export async function block(db: Executor, blockerId: string, blockedId: string, at: Date): Promise<boolean> {
  const rows = await db
    .insert(userBlocks)
    .values({ blockerId, blockedId, createdAt: at })
    .onConflictDoNothing()
    .returning({ b: userBlocks.blockedId });
  return rows.length === 1;
}

export async function unblock(db: Executor, blockerId: string, blockedId: string): Promise<boolean> {
  const rows = await db
    .delete(userBlocks)
    .where(and(eq(userBlocks.blockerId, blockerId), eq(userBlocks.blockedId, blockedId)))
    .returning({ b: userBlocks.blockedId });
  return rows.length === 1;
}

/** Whether either of the two users blocked the other. */
export async function blockedEitherWay(db: Executor, a: string, b: string): Promise<boolean> {
  const rows = rowsOf(
    await db.execute(sql`select 1 from ${userBlocks}
    where (${userBlocks.blockerId} = ${a} and ${userBlocks.blockedId} = ${b}) or (${userBlocks.blockerId} = ${b} and ${userBlocks.blockedId} = ${a}) limit 1`),
  );
  return rows.length > 0;
}

/** Of `userIds`, those who blocked `authorId`. */
export async function blockersOf(db: Executor, authorId: string, userIds: string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db
    .select({ id: userBlocks.blockerId })
    .from(userBlocks)
    .where(and(eq(userBlocks.blockedId, authorId), inArray(userBlocks.blockerId, userIds)));
  return new Set(rows.map((r) => r.id));
}

/** Deletes messages past their conversation's retention, or the global one (days; 0 keeps forever). */
export async function pruneExpired(db: Executor, now: Date, globalDays: number): Promise<number> {
  const rows = rowsOf(
    await db.execute(sql`delete from ${messages} m using ${conversations} c
    where c.id = m.conversation_id
      and coalesce(c.retention_days, ${globalDays}) > 0
      and m.created_at < ${now.toISOString()}::timestamptz - make_interval(days => coalesce(c.retention_days, ${globalDays}))
    returning m.id`),
  );
  return rows.length;
}
