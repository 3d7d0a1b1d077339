// API keys: only an HMAC of each key is stored, never the key nor a plain hash of it.
import { index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { users } from "../accounts/tables.js";

export const apiKeys = pgTable(
  "api_keys",
  {
    // The public lookup part of the key (`bwk_<id>_…`): finding the row never needs the secret.
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    // HMAC-SHA256(SECRET_KEY, key) as hex: a stolen table is useless without SECRET_KEY.
    keyHash: text("key_hash").notNull(),
    scopes: jsonb("scopes").$type<string[]>().notNull(),
    // Null: the key shares its owner's budget; a number: its own per-minute bucket.
    rateLimitPerMinute: integer("rate_limit_per_minute"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }),
    // Written at most once a minute: a write per request would cost more than it tells.
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
    revokeReason: text("revoke_reason"),
    // Set on the old key by a rotation: the key that replaces it.
    replacedBy: text("replaced_by"),
    // When the expiry was audited: `api_key.expire` is recorded exactly once, whichever instance sees it.
    expiryRecordedAt: timestamp("expiry_recorded_at", { withTimezone: true, mode: "date" }),
    // Every change bumps this: the periodic reload drops changed keys from each instance's cache.
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("api_keys_user_idx").on(t.userId), index("api_keys_updated_idx").on(t.updatedAt)],
);
