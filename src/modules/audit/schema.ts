// TypeBox schemas of the audit routes, and the event shapes the service takes and returns.
import type { AuditEventType } from "./vocabulary.js";
import { Type, type Static } from "typebox";
import { DateTime, Text } from "../../http/text.js";

export const AuditResult = Type.Union([Type.Literal("success"), Type.Literal("failure"), Type.Literal("denied")]);
export type AuditResult = Static<typeof AuditResult>;

/** One audit event as the API shows it (snake_case; docs/routes.md lists the event types). */
export const AuditEventView = Type.Object(
  {
    id: Type.String(),
    at: Type.String({ format: "date-time" }),
    event_type: Type.String(),
    result: AuditResult,
    actor: Type.Object(
      {
        user_id: Type.Optional(Type.String()),
        key_id: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    ip: Type.Union([Type.String(), Type.Null()]),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    target: Type.Optional(Type.String()),
    // Free-form by design (already scrubbed of secrets when written).
    metadata: Type.Object({}, { additionalProperties: true }),
  },
  { additionalProperties: false },
);
export type AuditEventView = Omit<Static<typeof AuditEventView>, "metadata"> & { metadata: Record<string, unknown> };

export const AuditQuery = Type.Object(
  {
    event_type: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
    user_id: Type.Optional(Text({ minLength: 1, maxLength: 128 })),
    ip: Type.Optional(Text({ minLength: 1, maxLength: 64 })),
    result: Type.Optional(AuditResult),
    since: Type.Optional(DateTime()),
    until: Type.Optional(DateTime()),
    cursor: Type.Optional(Text({ minLength: 1, maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;

export const AuditPage = Type.Object(
  {
    events: Type.Array(AuditEventView),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

export const VerifyResult = Type.Object(
  {
    ok: Type.Boolean(),
    checked: Type.Integer({ minimum: 0 }),
    first_bad_id: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type VerifyResult = Static<typeof VerifyResult>;

/** What a caller records: who did what to which target, and how it ended. */
export type AuditEvent = {
  eventType: AuditEventType;
  result: AuditResult;
  actor?: { userId?: string | null; keyId?: string | null };
  ip?: string | null;
  userAgent?: string | null;
  target?: string | null;
  metadata?: Record<string, unknown>;
};

/** Filters of `AuditService.query`; `since` is inclusive, `until` exclusive. */
export type AuditFilters = {
  eventType?: string | undefined;
  userId?: string | undefined;
  ip?: string | undefined;
  result?: AuditResult | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  cursor?: string | undefined;
  /** 1..200, default 50. */
  limit?: number | undefined;
};

export type AuditPageView = { events: AuditEventView[]; nextCursor: string | null };
