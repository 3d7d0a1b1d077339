// TypeBox schemas of the webhooks routes, and the shapes the service takes and returns.
import { Type, type Static } from "typebox";
import { Text } from "../../http/text.js";
import type { Executor } from "../../store/db.js";

const closed = { additionalProperties: false } as const;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

// The security events Bulwark sends out are named in the audit vocabulary, next to the events that
// become them: one list, which each event's `webhook.event` is typed against.
export { OUTBOUND_EVENTS, type OutboundEvent } from "../audit/vocabulary.js";
import { OUTBOUND_EVENTS } from "../audit/vocabulary.js";

export const Received = Type.Object(
  { received: Type.Literal(true), duplicate: Type.Optional(Type.Literal(true)) },
  closed,
);

export const SourceParams = Type.Object({ source: Text({ minLength: 1, maxLength: 60 }) }, closed);

export const EventView = Type.Object(
  {
    id: Type.String(),
    source: Type.String(),
    event_id: Type.String(),
    type: Type.String(),
    status: Type.Union([Type.Literal("processed"), Type.Literal("failed")]),
    attempts: Type.Integer(),
    last_error: Nullable(Type.String()),
    received_at: Type.String(),
    processed_at: Nullable(Type.String()),
  },
  closed,
);
export type EventView = Static<typeof EventView>;

export const EventsQuery = Type.Object(
  {
    source: Type.Optional(Text({ minLength: 1, maxLength: 60 })),
    status: Type.Optional(Type.Union([Type.Literal("processed"), Type.Literal("failed")])),
    cursor: Type.Optional(Text({ minLength: 1, maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
  },
  closed,
);
export type EventsQuery = Static<typeof EventsQuery>;

export const EventsPage = Type.Object({ events: Type.Array(EventView), next_cursor: Nullable(Type.String()) }, closed);

export const OutboundEventName = Type.Union(OUTBOUND_EVENTS.map((e) => Type.Literal(e)));

export const CreateEndpointBody = Type.Object(
  {
    url: Text({ minLength: 1, maxLength: 2048 }),
    events: Type.Array(OutboundEventName, { minItems: 1, maxItems: OUTBOUND_EVENTS.length, uniqueItems: true }),
  },
  closed,
);
export type CreateEndpointBody = Static<typeof CreateEndpointBody>;

export const EndpointCreated = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    events: Type.Array(Type.String()),
    secret: Type.String(),
  },
  closed,
);

export const EndpointView = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    events: Type.Array(Type.String()),
    created_at: Type.String(),
  },
  closed,
);
export type EndpointView = Static<typeof EndpointView>;

export const EndpointList = Type.Object({ endpoints: Type.Array(EndpointView) }, closed);

export const EndpointParams = Type.Object({ id: Text({ minLength: 1, maxLength: 64 }) }, closed);

export const DeliveryView = Type.Object(
  {
    id: Type.String(),
    event_type: Type.String(),
    status: Type.Union([
      Type.Literal("pending"),
      Type.Literal("delivered"),
      Type.Literal("failed"),
      Type.Literal("cancelled"),
    ]),
    attempts: Type.Integer(),
    next_attempt_at: Nullable(Type.String()),
    last_status_code: Nullable(Type.Integer()),
    last_error: Nullable(Type.String()),
    created_at: Type.String(),
    delivered_at: Nullable(Type.String()),
    log: Type.Array(
      Type.Object(
        {
          attempt: Type.Integer(),
          at: Type.String(),
          status_code: Nullable(Type.Integer()),
          error: Nullable(Type.String()),
          duration_ms: Type.Integer(),
        },
        closed,
      ),
    ),
  },
  closed,
);
export type DeliveryView = Static<typeof DeliveryView>;

export const DeliveryList = Type.Object({ deliveries: Type.Array(DeliveryView) }, closed);

/** An inbound event as handlers see it: the provider's event, parsed from the verified raw body. */
export type WebhookEvent = {
  /** The route's source: `stripe`, or the `<source>` of a Standard Webhooks route. */
  source: string;
  /** The provider's event id (Stripe's `id`, or the `webhook-id` header). */
  id: string;
  /** The event type (Stripe's `type`, or the body's `type` for Standard Webhooks; `unknown` without one). */
  type: string;
  /** The parsed JSON body. */
  payload: unknown;
};

/** What else a handler can do: run code once the transaction committed (cache invalidation, notifications). */
export type WebhookContext = { afterCommit(task: () => Promise<void> | void): void };

/**
 * Handles an inbound event inside the transaction that records it: write with `tx` (never the
 * app's `db`) so the change commits with the event, or not at all. Throwing makes the response 500
 * and the provider retries.
 */
export type WebhookHandler = (event: WebhookEvent, tx: Executor, context: WebhookContext) => Promise<void> | void;
