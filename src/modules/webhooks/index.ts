// The webhooks module's public surface: verified inbound events with handlers registered by apps
// (`app.bulwark.webhooks.onWebhook`), and signed outbound security events.
import { OUTBOUND_EVENTS } from "../audit/vocabulary.js";
import { defineModule } from "../module.js";
import { webhookRoutes } from "./routes.js";
import { createWebhookService, type WebhookService } from "./service.js";

export {
  createWebhookService,
  matchesType,
  outboundEventFor,
  stripePlan,
  MAX_ATTEMPTS,
  RETRY_SCHEDULE_SECONDS,
  type WebhookDeps,
  type WebhookService,
} from "./service.js";
export {
  OUTBOUND_EVENTS,
  type OutboundEvent,
  type WebhookContext,
  type WebhookEvent,
  type WebhookHandler,
} from "./schema.js";
export { signStandard, verifyStandard, verifyStripe } from "./signatures.js";
export { isPrivateAddress } from "./ssrf.js";

declare module "../module.js" {
  interface Services {
    webhooks: WebhookService;
  }
}

const EVENTS = {
  "webhook.received": { description: "A verified inbound event was stored and handled (once, whatever the retries)." },
  "webhook.rejected": {
    description: "An inbound request failed its signature, timestamp or format check (the reason, never the body).",
  },
  "webhook.failed": { description: "A handler failed on a verified inbound event; the provider retries." },
  "webhook_endpoint.create": {
    description: "An admin added an outbound endpoint (the URL and events; never the secret).",
  },
  "webhook_endpoint.delete": { description: "An admin removed an outbound endpoint." },
} as const;

declare module "../audit/vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof EVENTS, true> {}
}

/** Inbound verified webhooks, and outbound security events derived from audit events in their transaction. */
export const webhooksModule = defineModule({
  name: "webhooks",
  needs: ["accounts"],
  create: ({ db, clock, audit, keyring, config, metrics, logger }, use) =>
    createWebhookService({
      db,
      clock,
      audit,
      keyring,
      accounts: use("accounts"),
      config: { ...config.webhooks, production: config.production },
      registry: metrics.registry,
      onError: (e, what) => logger.warn({ err: e instanceof Error ? e.message : String(e) }, what),
    }),
  routes: (app, webhooks, _use, { config }) =>
    webhookRoutes(app, { webhooks, maxBodyBytes: config.webhooks.maxBodyBytes }),
  encryptedColumns: [{ table: "webhook_endpoints", id: "id", column: "secret_enc", contextColumn: "secret" }],
  auditEvents: EVENTS,
  // The delivery worker's queue lives in the database: it runs on the server, not in a CLI command.
  start: (webhooks, { background, audit }) => {
    // An outbound event no audit event becomes would be offered to endpoints and never sent.
    const declared = new Set([...audit.vocabulary().values()].flatMap((spec) => spec.webhook?.event ?? []));
    const orphan = OUTBOUND_EVENTS.find((event) => !declared.has(event));
    if (orphan) throw new Error(`webhooks: outbound event ${orphan} is not declared by any audit event's webhook`);
    if (background) webhooks.start();
  },
  stop: (webhooks) => webhooks.stop(),
});
