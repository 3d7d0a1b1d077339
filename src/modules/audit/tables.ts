// The audit tables: an append-only, hash-chained log and the one-row head of the chain.
import { sql } from "drizzle-orm";
import { bigint, check, index, jsonb, pgTable, smallint, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const auditLogs = pgTable(
  "audit_logs",
  {
    id: text("id").primaryKey(),
    // The chain order: rows are linked in seq order, assigned under the chain lock.
    seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity().notNull(),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull(),
    eventType: text("event_type").notNull(),
    result: text("result").$type<"success" | "failure" | "denied">().notNull(),
    actorUserId: text("actor_user_id"),
    actorKeyId: text("actor_key_id"),
    ip: text("ip"),
    userAgent: text("user_agent"),
    target: text("target"),
    metadata: jsonb("metadata")
      .$type<Record<string, unknown>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    // Unique: two rows claiming one place in the chain would make its order ambiguous.
    uniqueIndex("audit_logs_seq_key").on(t.seq),
    index("audit_logs_at_idx").on(t.at),
    index("audit_logs_event_type_idx").on(t.eventType, t.seq),
    index("audit_logs_actor_user_id_idx").on(t.actorUserId, t.seq),
    check("audit_logs_result_check", sql`${t.result} in ('success', 'failure', 'denied')`),
  ],
);

// The newest row's seq and hash, updated in the same transaction as each insert: cutting rows off
// the end of the log leaves the head pointing past them, so a truncated tail is detected too.
export const auditChainHead = pgTable(
  "audit_chain_head",
  {
    id: smallint("id").primaryKey(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [check("audit_chain_head_singleton", sql`${t.id} = 1`)],
);
