ALTER TABLE "users" ADD COLUMN "first_verified_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "external_identities" ADD COLUMN "email" text;--> statement-breakpoint
ALTER TABLE "external_identities" ADD COLUMN "email_verified" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "external_identities" ADD COLUMN "how" text DEFAULT 'provisioned' NOT NULL;--> statement-breakpoint
-- Accounts verified before this column existed: their proof is dated to their creation (the
-- earliest it can have been), so two-factor they enrolled is kept by a later password reset.
UPDATE "users" SET "first_verified_at" = "created_at" WHERE "email_verified" = true;
--> statement-breakpoint
-- Outside identities provisioned with an unverified email held that address locally: the email moves
-- to the link, and the user gets a placeholder in the reserved .invalid domain, so it reserves nothing.
UPDATE "external_identities" SET "email" = u."email", "email_verified" = u."email_verified" FROM "users" u WHERE u."id" = "external_identities"."user_id";--> statement-breakpoint
UPDATE "users" SET "email" = 'unverified-' || "id" || '@external.invalid', "email_key" = 'unverified-' || lower("id") || '@external.invalid'
  WHERE "password_hash" IS NULL AND "email_verified" = false AND "email_key" NOT LIKE '%@external.invalid'
  AND "id" IN (SELECT "user_id" FROM "external_identities");
