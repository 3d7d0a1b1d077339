CREATE TABLE "signing_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"alg" text DEFAULT 'EdDSA' NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"private_key" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"activated_at" timestamp with time zone,
	"retired_at" timestamp with time zone,
	"publish_until" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "signing_keys_alg_check" CHECK ("signing_keys"."alg" = 'EdDSA'),
	CONSTRAINT "signing_keys_revoked_retired" CHECK ("signing_keys"."revoked_at" is null or "signing_keys"."retired_at" is not null)
);
--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_active" ON "signing_keys" USING btree ((true)) WHERE "signing_keys"."activated_at" is not null and "signing_keys"."retired_at" is null;