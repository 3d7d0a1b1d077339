// Files: one row per stored object, and each user's running total of stored bytes (the quota).
import { bigint, index, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { users } from "../accounts/tables.js";

export const files = pgTable(
  "files",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // The client's file name, cleaned, for display and Content-Disposition only: it never reaches a path.
    name: text("name").notNull(),
    // The type the bytes are (sniffed), never the type the client declared.
    type: text("type").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    // SHA-256 (hex) of the stored bytes, which for an image are the re-encoded ones.
    sha256: text("sha256").notNull(),
    visibility: text("visibility", { enum: ["private", "public"] }).notNull(),
    // Server-generated object name on disk or in the bucket.
    storageKey: text("storage_key").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("files_user_idx").on(t.userId, t.id)],
);

// Bytes reserved by each user's files. An upload adds its size with a conditional update
// (`used + size <= quota`), so concurrent uploads cannot together pass the quota.
export const fileUsage = pgTable("file_usage", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  bytes: bigint("bytes", { mode: "number" }).notNull(),
});
