// Two-factor: a TOTP secret per user (encrypted with the keyring), recovery codes (hashed), and the
// short-lived challenges between a correct password and a correct code.
import { bigint, boolean, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { users } from "../accounts/tables.js";

export const mfaTotp = pgTable("mfa_totp", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  // A keyring envelope bound to (mfa_totp, secret, user id): never stored in the clear.
  secret: text("secret").notNull(),
  // Null while set up but not yet confirmed with a code.
  enabledAt: timestamp("enabled_at", { withTimezone: true, mode: "date" }),
  // The last time step accepted: a code of this step or an earlier one is a replay.
  lastStep: bigint("last_step", { mode: "number" }),
  // Consecutive wrong codes, and the per-user back-off they cause.
  failures: integer("failures").notNull().default(0),
  lockedUntil: timestamp("locked_until", { withTimezone: true, mode: "date" }),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
});

export const mfaRecoveryCodes = pgTable(
  "mfa_recovery_codes",
  {
    codeHash: text("code_hash").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("mfa_recovery_codes_user_idx").on(t.userId)],
);

export const mfaChallenges = pgTable(
  "mfa_challenges",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    useCookies: boolean("use_cookies").notNull().default(false),
    knownDevice: boolean("known_device").notNull().default(false),
    consumedAt: timestamp("consumed_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("mfa_challenges_user_idx").on(t.userId)],
);
