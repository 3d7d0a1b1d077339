// The webhooks routes: inbound endpoints for providers (no authentication: the signature is the
// credential), the admin view of received events, and the admin API of outbound endpoints.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { requestActor } from "../audit/index.js";
import {
  CreateEndpointBody,
  DeliveryList,
  EndpointCreated,
  EndpointList,
  EndpointParams,
  EventsPage,
  EventsQuery,
  Received,
  SourceParams,
} from "./schema.js";
import type { ClientMeta, WebhookService } from "./service.js";
import { NoBody } from "../../http/schemas.js";

const meta = (req: FastifyRequest): ClientMeta => {
  const { ip, userAgent } = requestActor(req);
  return { ip, userAgent };
};

/** The inbound routes, in a context of their own: only here are bodies kept as raw bytes. */
async function inboundRoutes(
  app: FastifyInstance,
  { webhooks, maxBodyBytes }: { webhooks: WebhookService; maxBodyBytes: number },
): Promise<void> {
  // Signatures cover the exact bytes sent: JSON parsed and re-serialised would not verify (and
  // must not be trusted). This parser is scoped to this plugin; the rest of the app stays JSON-only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: maxBodyBytes }, (_req, body, done) => done(null, body));
  const raw = (body: unknown): Buffer => (Buffer.isBuffer(body) ? body : Buffer.alloc(0));

  // `auth: "public"` (providers have no Bulwark credentials; the signature over the raw body
  // authenticates them, so `rawBody` stands for the body schema) and no route-level `audit`: the
  // service records every rejection with its reason. Rate class `webhook`: a generous per-IP
  // budget, since providers burst and retry what gets a 429.
  app.post(
    "/api/webhooks/stripe",
    {
      bodyLimit: maxBodyBytes,
      schema: { response: { 200: Received } },
      config: { auth: "public", rateLimit: "webhook", rawBody: true },
    },
    async (req) => webhooks.receive({ source: "stripe", headers: req.headers, body: raw(req.body), meta: meta(req) }),
  );

  app.post(
    "/api/webhooks/:source",
    {
      bodyLimit: maxBodyBytes,
      schema: { params: SourceParams, response: { 200: Received } },
      config: { auth: "public", rateLimit: "webhook", rawBody: true },
    },
    async (req) =>
      webhooks.receive({
        source: (req.params as { source: string }).source,
        headers: req.headers,
        body: raw(req.body),
        meta: meta(req),
      }),
  );
}

/** Registers every webhooks route. */
export async function webhookRoutes(
  app: FastifyInstance,
  options: { webhooks: WebhookService; maxBodyBytes: number },
): Promise<void> {
  const { webhooks } = options;
  await app.register(inboundRoutes, options);
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/api/admin/webhooks/events",
    {
      schema: { querystring: EventsQuery, response: { 200: EventsPage } },
      config: { auth: "admin", rateLimit: "default" },
    },
    async (req) => webhooks.listEvents(req.query),
  );

  r.post(
    "/api/admin/webhook-endpoints",
    {
      schema: { body: CreateEndpointBody, response: { 201: EndpointCreated } },
      config: { auth: "admin", rateLimit: "sensitive", audit: "webhook_endpoint.create" },
    },
    async (req, reply) => {
      const created = await webhooks.createEndpoint(req.body, { ...meta(req), userId: req.principal!.userId });
      // The secret is shown this once; only its encryption is kept.
      return reply.code(201).send(created);
    },
  );

  r.get(
    "/api/admin/webhook-endpoints",
    {
      schema: { response: { 200: EndpointList } },
      config: { auth: "admin", rateLimit: "default" },
    },
    async () => ({ endpoints: await webhooks.listEndpoints() }),
  );

  r.delete(
    "/api/admin/webhook-endpoints/:id",
    {
      schema: { params: EndpointParams, body: NoBody },
      config: { auth: "admin", rateLimit: "sensitive", audit: "webhook_endpoint.delete" },
    },
    async (req, reply) => {
      await webhooks.deleteEndpoint(req.params.id, { ...meta(req), userId: req.principal!.userId });
      return reply.code(204).send();
    },
  );

  r.get(
    "/api/admin/webhook-endpoints/:id/deliveries",
    {
      schema: { params: EndpointParams, response: { 200: DeliveryList } },
      config: { auth: "admin", rateLimit: "default" },
    },
    async (req) => ({ deliveries: await webhooks.listDeliveries(req.params.id) }),
  );
}
