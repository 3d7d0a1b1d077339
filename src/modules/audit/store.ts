// The audit module's SQL, and nothing else.
import { and, asc, desc, eq, gt, gte, lt, lte, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import type { AuditResult } from "./schema.js";
import { auditChainHead, auditLogs } from "./tables.js";

export type AuditRow = typeof auditLogs.$inferSelect;
export type NewAuditRow = Omit<typeof auditLogs.$inferInsert, "seq">;
export type ChainHead = { seq: number; hash: string };

/**
 * Reads the chain head and locks its row until the outermost transaction ends: chain writers on
 * every connection and instance are serialised, and a writer that waited reads the head its
 * predecessor left. Null when the row is gone (no lock then: the caller must not write).
 */
export async function lockHead(tx: Executor): Promise<ChainHead | null> {
  const rows = await tx
    .select({ seq: auditChainHead.seq, hash: auditChainHead.hash })
    .from(auditChainHead)
    .where(eq(auditChainHead.id, 1))
    .for("update");
  return rows[0] ?? null;
}

/** The chain head, or null when its row is gone. */
export async function readHead(db: Executor): Promise<ChainHead | null> {
  const rows = await db
    .select({ seq: auditChainHead.seq, hash: auditChainHead.hash })
    .from(auditChainHead)
    .where(eq(auditChainHead.id, 1));
  return rows[0] ?? null;
}

/**
 * Inserts rows and moves the head to the last of them, in one statement; returns the seq the
 * database gave each, in the order given. The chain links them in that order, so seqs out of it
 * (which PostgreSQL does not do) fail the write.
 */
export async function appendRows(tx: Executor, rows: NewAuditRow[], headHash: string): Promise<number[]> {
  const inserted = tx
    .$with("inserted")
    .as(tx.insert(auditLogs).values(rows).returning({ id: auditLogs.id, seq: auditLogs.seq }));
  const [moved] = await tx
    .with(inserted)
    .update(auditChainHead)
    .set({ seq: sql`(select max(${inserted.seq}) from ${inserted})`, hash: headHash })
    .where(eq(auditChainHead.id, 1))
    .returning({
      ids: sql<
        [string, number][]
      >`(select json_agg(json_build_array(${inserted.id}, ${inserted.seq})) from ${inserted})`,
    });
  if (!moved) throw new Error("audit chain head is missing: run `bulwark audit verify`");
  const seqOf = new Map(moved.ids.map(([id, seq]) => [id, Number(seq)]));
  const seqs = rows.map((row) => seqOf.get(row.id));
  for (const [i, seq] of seqs.entries())
    if (seq === undefined || (i > 0 && seq <= seqs[i - 1]!)) throw new Error("audit insert: rows out of chain order");
  return seqs as number[];
}

export type RowFilters = {
  eventType?: string | undefined;
  userId?: string | undefined;
  ip?: string | undefined;
  result?: AuditResult | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Only rows older than this seq (the keyset cursor). */
  beforeSeq?: number | undefined;
};

/** Rows matching the filters, newest first. */
export async function listRows(db: Executor, filters: RowFilters, limit: number): Promise<AuditRow[]> {
  const where: SQL[] = [];
  if (filters.eventType !== undefined) where.push(eq(auditLogs.eventType, filters.eventType));
  if (filters.userId !== undefined) where.push(eq(auditLogs.actorUserId, filters.userId));
  if (filters.ip !== undefined) where.push(eq(auditLogs.ip, filters.ip));
  if (filters.result !== undefined) where.push(eq(auditLogs.result, filters.result));
  if (filters.since !== undefined) where.push(gte(auditLogs.at, filters.since));
  if (filters.until !== undefined) where.push(lt(auditLogs.at, filters.until));
  if (filters.beforeSeq !== undefined) where.push(lt(auditLogs.seq, filters.beforeSeq));
  return db
    .select()
    .from(auditLogs)
    .where(and(...where))
    .orderBy(desc(auditLogs.seq))
    .limit(limit);
}

/** Up to `limit` rows after `afterSeq` (and at most `upTo` when given), in chain order. */
export async function rowsAfter(db: Executor, afterSeq: number, limit: number, upTo?: number): Promise<AuditRow[]> {
  const range =
    upTo === undefined ? gt(auditLogs.seq, afterSeq) : and(gt(auditLogs.seq, afterSeq), lte(auditLogs.seq, upTo));
  return db.select().from(auditLogs).where(range).orderBy(asc(auditLogs.seq)).limit(limit);
}
