// Messages: conversations, their members, messages (bodies sealed with the keyring) and blocks.
import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { users } from "../accounts/tables.js";

export const conversations = pgTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    type: text("type").$type<"direct" | "group">().notNull(),
    title: text("title"),
    createdBy: text("created_by")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // For a direct conversation, the two member ids sorted and joined: one conversation per pair.
    directKey: text("direct_key"),
    // Days a message is kept; null falls back to MESSAGE_RETENTION_DAYS (0 there: forever).
    retentionDays: integer("retention_days"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    uniqueIndex("conversations_direct_key").on(t.directKey),
    check("conversations_type_check", sql`${t.type} in ('direct', 'group')`),
  ],
);

export const conversationMembers = pgTable(
  "conversation_members",
  {
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    joinedAt: timestamp("joined_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    // A user's conversations, newest first, for GET /api/conversations.
    index("conversation_members_user_idx").on(t.userId, t.conversationId),
  ],
);

export const messages = pgTable(
  "messages",
  {
    // Time-ordered and monotonic per instance: the cursor of the history.
    id: text("id").primaryKey(),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    authorId: text("author_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // A keyring envelope (bw1.<key id>.…) bound to messages/body/<conversation id>:<message id>.
    body: text("body").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    editedAt: timestamp("edited_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    // The history walks this index backwards from the cursor: every page costs the same.
    index("messages_conversation_idx").on(t.conversationId, t.id),
    index("messages_created_idx").on(t.createdAt),
  ],
);

export const userBlocks = pgTable(
  "user_blocks",
  {
    blockerId: text("blocker_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    blockedId: text("blocked_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.blockerId, t.blockedId] })],
);
