// Sign-in: failed-login counters per login name and per account (lockout), and device-token resets.
import { index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { users } from "../accounts/tables.js";

// Failed logins per normalised login name, whether or not an account has that name: counting only
// real accounts would tell an attacker which names exist.
export const loginFailures = pgTable(
  "login_failures",
  {
    loginKey: text("login_key").primaryKey(),
    failures: integer("failures").notNull(),
    lastFailureAt: timestamp("last_failure_at", { withTimezone: true, mode: "date" }).notNull(),
    lockedUntil: timestamp("locked_until", { withTimezone: true, mode: "date" }),
    // The hard cap (100 failures an hour) holds even for devices exempt from the back-off.
    windowStart: timestamp("window_start", { withTimezone: true, mode: "date" }).notNull(),
    windowFailures: integer("window_failures").notNull(),
  },
  (t) => [index("login_failures_last_idx").on(t.lastFailureAt)],
);

// Device tokens issued before this time are void: set by a password reset, when the owner takes
// the account back from whoever held it (and that person's devices with it).
export const deviceTokenResets = pgTable("device_token_resets", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  notBefore: timestamp("not_before", { withTimezone: true, mode: "date" }).notNull(),
});
