ALTER TABLE "login_failures" ADD COLUMN "window_start" timestamp with time zone NOT NULL;--> statement-breakpoint
ALTER TABLE "login_failures" ADD COLUMN "window_failures" integer NOT NULL;