// Users of an outside identity provider, linked by (provider, subject): never by email, which a
// provider may let its users change, so an email alone must never reach an existing account.
import { boolean, index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { users } from "../accounts/tables.js";

export const externalIdentities = pgTable(
  "external_identities",
  {
    // The provider's issuer (`iss`), exactly as configured.
    provider: text("provider").notNull(),
    subject: text("subject").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // The email the provider's token carried when the link was made, and whether the provider said it
    // was verified. Kept here, not on the user: an unverified address reserves nothing locally.
    email: text("email"),
    emailVerified: boolean("email_verified").notNull().default(false),
    // "provisioned" (a new local user for this identity) or "linked" (the signed-in owner of an existing account linked it).
    how: text("how").$type<"provisioned" | "linked">().notNull().default("provisioned"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.subject] }), index("external_identities_user_idx").on(t.userId)],
);
