// Accounts: users, and the one-time tokens mailed to them.
import { sql } from "drizzle-orm";
import { boolean, check, date, index, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    username: text("username").notNull(),
    // Lower-cased copies: uniqueness without regard to case, without functional indexes.
    usernameKey: text("username_key").notNull(),
    email: text("email").notNull(),
    emailKey: text("email_key").notNull(),
    emailVerified: boolean("email_verified").notNull().default(false),
    // When the account first proved an address of its own (a verification link, a completed reset,
    // an outside provider's verified claim; an operator's import); never cleared by a later email change. Null: never, so
    // the registration expires (UNVERIFIED_ACCOUNT_TTL), and two-factor enrolled before this time is
    // removed by a password reset: it may be a squatter's, enrolled before the owner showed up.
    firstVerifiedAt: timestamp("first_verified_at", { withTimezone: true, mode: "date" }),
    // Null for users provisioned from an outside identity provider: they cannot sign in or reset by password.
    passwordHash: text("password_hash"),
    displayName: text("display_name"),
    birthDate: date("birth_date", { mode: "string" }),
    role: text("role").$type<"user" | "admin">().notNull().default("user"),
    plan: text("plan"),
    mfaEnabled: boolean("mfa_enabled").notNull().default(false),
    disabledAt: timestamp("disabled_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    uniqueIndex("users_username_key").on(t.usernameKey),
    uniqueIndex("users_email_key").on(t.emailKey),
    check("users_role_check", sql`${t.role} in ('user', 'admin')`),
  ],
);

// One-time tokens sent by mail (email verification, password reset, undoing an email change). Only an HMAC of the token is
// stored: a database leak yields no usable link. `email_key` binds a verification to the address it
// was sent to, so a token cannot verify an address the user changed to afterwards.
export const accountTokens = pgTable(
  "account_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    purpose: text("purpose").$type<"verify_email" | "reset_password" | "undo_email_change">().notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    emailKey: text("email_key").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
    // Undoing an email change: the address to restore (the one the undo link was mailed to).
    previousEmail: text("previous_email"),
  },
  (t) => [index("account_tokens_user_idx").on(t.userId, t.purpose)],
);

// Invitations an admin sends to an address (REGISTRATION=invite, or open). Like the mailed tokens,
// only an HMAC of the invitation token is kept; it is single use (`used_at`) and expires.
export const invitations = pgTable(
  "invitations",
  {
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull(),
    email: text("email").notNull(),
    emailKey: text("email_key").notNull(),
    invitedBy: text("invited_by"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
    userId: text("user_id").references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [uniqueIndex("invitations_token_hash").on(t.tokenHash), index("invitations_email_idx").on(t.emailKey)],
);
