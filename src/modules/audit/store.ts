// The audit module's SQL, and nothing else.
import { and, asc, desc, eq, gt, gte, lt, lte, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import type { AuditResult } from "./schema.js";
import { auditChainHead, auditLogs } from "./tables.js";

export type AuditRow = typeof auditLogs.$inferSelect;
export type NewAuditRow = Omit<typeof auditLogs.$inferInsert, "seq">;
export type ChainHead = { seq: number; hash: string };

/** A fixed advisory-lock key for "the audit chain": "bulwaud1" in ASCII, distinct from the migration lock. */
const CHAIN_LOCK = 7_094_703_270_187_885_617n;

/** Serialises chain writers across every connection and instance until the transaction ends. */
export async function lockChain(tx: Executor): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${CHAIN_LOCK.toString()}::bigint)`);
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
 * Inserts rows in one statement and returns the seq the database gave each, in the order given. The
 * chain links them in that order, so seqs out of it (which PostgreSQL does not do) fail the write.
 */
export async function insertRows(tx: Executor, rows: NewAuditRow[]): Promise<number[]> {
  const inserted = await tx.insert(auditLogs).values(rows).returning({ id: auditLogs.id, seq: auditLogs.seq });
  const seqOf = new Map(inserted.map((r) => [r.id, r.seq]));
  const seqs = rows.map((row) => seqOf.get(row.id));
  for (const [i, seq] of seqs.entries())
    if (seq === undefined || (i > 0 && seq <= seqs[i - 1]!)) throw new Error("audit insert: rows out of chain order");
  return seqs as number[];
}

/** Moves the head to the row just inserted. */
export async function advanceHead(tx: Executor, head: ChainHead): Promise<void> {
  await tx.update(auditChainHead).set(head).where(eq(auditChainHead.id, 1));
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
