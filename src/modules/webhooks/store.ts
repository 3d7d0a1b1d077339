// SQL of the webhooks module, and nothing else.
import { and, asc, desc, eq, inArray, isNull, lt, lte, sql } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import { webhookDeliveries, webhookDeliveryAttempts, webhookEndpoints, webhookEvents } from "./tables.js";

export type EventRow = typeof webhookEvents.$inferSelect;
export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookDeliveryAttempts.$inferSelect;

/**
 * Claims an event for processing: inserts its row, or returns undefined when one exists. A
 * concurrent insert of the same (source, event_id) waits on the unique index until the first
 * transaction ends, then conflicts: the two can never both run the handlers.
 */
export async function insertEvent(db: Executor, row: typeof webhookEvents.$inferInsert): Promise<boolean> {
  const inserted = await db
    .insert(webhookEvents)
    .values(row)
    .onConflictDoNothing({ target: [webhookEvents.source, webhookEvents.eventId] })
    .returning({ id: webhookEvents.id });
  return inserted.length > 0;
}

/** The stored event, locked until the transaction ends (a retry of a failed event is processed by one caller). */
export async function lockEvent(db: Executor, source: string, eventId: string): Promise<EventRow | undefined> {
  const [row] = await db
    .select()
    .from(webhookEvents)
    .where(and(eq(webhookEvents.source, source), eq(webhookEvents.eventId, eventId)))
    .for("update");
  return row;
}

export async function markProcessed(db: Executor, id: string, at: Date): Promise<void> {
  await db
    .update(webhookEvents)
    .set({ status: "processed", attempts: sql`${webhookEvents.attempts} + 1`, lastError: null, processedAt: at })
    .where(eq(webhookEvents.id, id));
}

/** Records a failed processing, in its own write (the handlers' transaction rolled back); never downgrades a processed event. */
export async function recordFailure(
  db: Executor,
  row: { id: string; source: string; eventId: string; type: string; receivedAt: Date; lastError: string },
): Promise<void> {
  await db
    .insert(webhookEvents)
    .values({ ...row, status: "failed", attempts: 1 })
    .onConflictDoUpdate({
      target: [webhookEvents.source, webhookEvents.eventId],
      set: { status: "failed", attempts: sql`${webhookEvents.attempts} + 1`, lastError: row.lastError },
      setWhere: sql`${webhookEvents.status} <> 'processed'`,
    });
}

/** A page of events, newest first. */
export async function listEvents(
  db: Executor,
  filters: { source?: string | undefined; status?: string | undefined; beforeId?: string | undefined },
  limit: number,
): Promise<EventRow[]> {
  const conditions = [];
  if (filters.source) conditions.push(eq(webhookEvents.source, filters.source));
  if (filters.status) conditions.push(eq(webhookEvents.status, filters.status as "processed"));
  if (filters.beforeId) conditions.push(lt(webhookEvents.id, filters.beforeId));
  return db
    .select()
    .from(webhookEvents)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(webhookEvents.id))
    .limit(limit);
}

export async function insertEndpoint(db: Executor, row: typeof webhookEndpoints.$inferInsert): Promise<void> {
  await db.insert(webhookEndpoints).values(row);
}

export async function listEndpoints(db: Executor): Promise<EndpointRow[]> {
  return db.select().from(webhookEndpoints).where(isNull(webhookEndpoints.deletedAt)).orderBy(asc(webhookEndpoints.id));
}

/** Endpoints subscribed to an outbound event type. */
export async function endpointsFor(db: Executor, eventType: string): Promise<{ id: string }[]> {
  return db
    .select({ id: webhookEndpoints.id })
    .from(webhookEndpoints)
    .where(
      and(isNull(webhookEndpoints.deletedAt), sql`${webhookEndpoints.events} @> ${JSON.stringify([eventType])}::jsonb`),
    );
}

export async function findEndpoint(db: Executor, id: string): Promise<EndpointRow | undefined> {
  const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  return row;
}

/** Soft-deletes an endpoint and cancels what it still had queued; false when there was none. */
export async function deleteEndpoint(db: Executor, id: string, at: Date): Promise<boolean> {
  const rows = await db
    .update(webhookEndpoints)
    .set({ deletedAt: at })
    .where(and(eq(webhookEndpoints.id, id), isNull(webhookEndpoints.deletedAt)))
    .returning({ id: webhookEndpoints.id });
  if (rows.length === 0) return false;
  await db
    .update(webhookDeliveries)
    .set({ status: "cancelled" })
    .where(and(eq(webhookDeliveries.endpointId, id), eq(webhookDeliveries.status, "pending")));
  return true;
}

export async function insertDeliveries(db: Executor, rows: (typeof webhookDeliveries.$inferInsert)[]): Promise<void> {
  if (rows.length > 0) await db.insert(webhookDeliveries).values(rows);
}

/** How many outbound deliveries wait to be sent (pending, due or not): the backlog. */
export async function countPending(db: Executor): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.status, "pending"));
  return Number(row?.n ?? 0);
}

/**
 * Claims up to `limit` due deliveries: locks them with SKIP LOCKED (another instance claiming at
 * the same moment gets different rows) and pushes their next attempt past `leaseUntil`, so the
 * claim outlives this short transaction while the request is in flight. A crashed sender's lease
 * simply expires and the delivery is tried again.
 */
export async function claimDue(db: Executor, now: Date, leaseUntil: Date, limit: number): Promise<DeliveryRow[]> {
  const due = await db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, "pending"), lte(webhookDeliveries.nextAttemptAt, now)))
    .orderBy(asc(webhookDeliveries.nextAttemptAt))
    .limit(limit)
    .for("update", { skipLocked: true });
  if (due.length === 0) return [];
  await db
    .update(webhookDeliveries)
    .set({ nextAttemptAt: leaseUntil })
    .where(
      inArray(
        webhookDeliveries.id,
        due.map((d) => d.id),
      ),
    );
  return due;
}

export async function saveAttempt(
  db: Executor,
  delivery: Partial<DeliveryRow> & { id: string },
  attempt: typeof webhookDeliveryAttempts.$inferInsert,
): Promise<void> {
  const { id, ...patch } = delivery;
  await db.update(webhookDeliveries).set(patch).where(eq(webhookDeliveries.id, id));
  await db.insert(webhookDeliveryAttempts).values(attempt);
}

/** Deliveries of an endpoint, newest first, with their attempts. */
export async function listDeliveries(
  db: Executor,
  endpointId: string,
  limit: number,
): Promise<{ delivery: DeliveryRow; attempts: AttemptRow[] }[]> {
  const deliveries = await db
    .select()
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.endpointId, endpointId))
    .orderBy(desc(webhookDeliveries.id))
    .limit(limit);
  if (deliveries.length === 0) return [];
  const attempts = await db
    .select()
    .from(webhookDeliveryAttempts)
    .where(
      inArray(
        webhookDeliveryAttempts.deliveryId,
        deliveries.map((d) => d.id),
      ),
    )
    .orderBy(asc(webhookDeliveryAttempts.attempt));
  return deliveries.map((delivery) => ({ delivery, attempts: attempts.filter((a) => a.deliveryId === delivery.id) }));
}
