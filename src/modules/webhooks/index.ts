// The webhooks module's public surface: verified inbound events with handlers registered by apps
// (`app.bulwark.webhooks.onWebhook`), and signed outbound security events.
import type { FastifyInstance } from "fastify";
import { webhookRoutes } from "./routes.js";
import type { WebhookService } from "./service.js";

export { createWebhookService, matchesType, outboundEventFor, stripePlan, MAX_ATTEMPTS, RETRY_SCHEDULE_SECONDS, type WebhookDeps, type WebhookService } from "./service.js";
export { OUTBOUND_EVENTS, type OutboundEvent, type WebhookContext, type WebhookEvent, type WebhookHandler } from "./schema.js";
export { signStandard, verifyStandard, verifyStripe } from "./signatures.js";
export { isPrivateAddress } from "./ssrf.js";

/** The columns this module encrypts with the keyring, for `bulwark keys rotate-encryption`. */
export const ENCRYPTED_COLUMNS = [{ table: "webhook_endpoints", id: "id", column: "secret_enc", contextColumn: "secret" }] as const;

/** Registers the webhooks routes over the service. */
export async function webhooksPlugin(app: FastifyInstance, options: { webhooks: WebhookService }): Promise<void> {
  await webhookRoutes(app, { webhooks: options.webhooks, maxBodyBytes: app.bulwark.config.webhooks.maxBodyBytes });
}
