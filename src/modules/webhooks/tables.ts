// Webhooks: inbound events (stored once per source and event id), outbound endpoints, and the
// durable queue of outbound deliveries with a log of every attempt.
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

// One row per accepted inbound event. The unique (source, event_id) index is what makes handling
// exactly-once: a second delivery of the same event, even a concurrent one, cannot insert again.
export const webhookEvents = pgTable(
  "webhook_events",
  {
    id: text("id").primaryKey(),
    source: text("source").notNull(),
    eventId: text("event_id").notNull(),
    type: text("type").notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull(),
    /** `processed` (handlers committed) or `failed` (a handler threw; the provider's retry runs them again). */
    status: text("status").$type<"processed" | "failed">().notNull(),
    attempts: integer("attempts").notNull(),
    lastError: text("last_error"),
    processedAt: timestamp("processed_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    uniqueIndex("webhook_events_source_event_key").on(t.source, t.eventId),
    index("webhook_events_status_idx").on(t.status, t.id),
  ],
);

// Outbound endpoints registered by admins. The signing secret is stored encrypted with the keyring.
export const webhookEndpoints = pgTable("webhook_endpoints", {
  id: text("id").primaryKey(),
  url: text("url").notNull(),
  events: jsonb("events").$type<string[]>().notNull(),
  secretEnc: text("secret_enc").notNull(),
  createdBy: text("created_by"),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  // Soft delete: the delivery log of a removed endpoint stays readable; its queue is cancelled.
  deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "date" }),
});

// The outbound queue: one row per (event, endpoint), written in the transaction of the audit event
// it reports, so it survives a restart and is never sent for a change that rolled back.
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    /** Also the `webhook-id` header: constant across retries, so receivers can de-duplicate. */
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id),
    eventType: text("event_type").notNull(),
    /** The exact JSON text that is signed and sent. */
    payload: text("payload").notNull(),
    status: text("status").$type<"pending" | "delivered" | "failed" | "cancelled">().notNull(),
    attempts: integer("attempts").notNull(),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }).notNull(),
    lastAttemptAt: timestamp("last_attempt_at", { withTimezone: true, mode: "date" }),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    index("webhook_deliveries_due_idx").on(t.status, t.nextAttemptAt),
    index("webhook_deliveries_endpoint_idx").on(t.endpointId, t.id),
  ],
);

// The delivery log: one row per attempt (time, response code or error, duration).
export const webhookDeliveryAttempts = pgTable(
  "webhook_delivery_attempts",
  {
    id: text("id").primaryKey(),
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id),
    attempt: integer("attempt").notNull(),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull(),
    statusCode: integer("status_code"),
    error: text("error"),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [index("webhook_delivery_attempts_delivery_idx").on(t.deliveryId, t.attempt)],
);
