// The audit vocabulary: every event type Bulwark records, declared by the module that records it.
// Modules list theirs in their definition (`auditEvents`); the audit service refuses a type nobody
// declared, route registration refuses a route naming one, and docs/routes.md lists them all.
import type { AuditResult } from "./schema.js";

/**
 * The security events Bulwark sends out to webhook endpoints (docs/webhooks.md). An audit event
 * becomes one by naming it in its `webhook` (typed against this list); the webhooks module refuses
 * to start when an event of this list has no audit event behind it, so the two cannot drift.
 */
export const OUTBOUND_EVENTS = [
  "user.created",
  "auth.lockout",
  "auth.token_reuse",
  "session.revoked",
  "password.changed",
  "password.reset",
  "email.change_undone",
  "mfa.enabled",
  "mfa.disabled",
  "api_key.created",
  "api_key.revoked",
  "user.disabled",
] as const;
export type OutboundEvent = (typeof OUTBOUND_EVENTS)[number];

/** What an audit event type means and how it leaves the system. */
export type AuditEventSpec = {
  /** One line for docs/routes.md. */
  readonly description: string;
  /** The outbound security webhook it becomes (see docs/webhooks.md), for which results. */
  readonly webhook?: { readonly event: OutboundEvent; readonly results: readonly AuditResult[] };
  /** Whether `target` names the affected user (otherwise the actor is the user it concerns). */
  readonly targetIsUser?: boolean;
};

export type AuditVocabulary = Readonly<Record<string, AuditEventSpec>>;

/**
 * The event types as a type: each module adds its own with
 * `declare module "../audit/vocabulary.js" { interface AuditEventTypes extends Record<keyof typeof EVENTS, true> {} }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface AuditEventTypes {}

export type AuditEventType = keyof AuditEventTypes & string;

/** Events of the shared pipeline rather than of one module. */
export const CORE_EVENTS = {
  "rate_limit.exceeded": { description: "A client went over a rate limit (one row per key, policy and window)." },
  "mail.sent": { description: "A system mail was handed to the mail server (or the dev outbox); never its body." },
  "encryption_key.rotate": { description: "An operator re-encrypted the values under an older ENCRYPTION_KEYS key." },
  "audit_log.read": { description: "An admin read the audit log (the filters are recorded)." },
  "audit_log.verify": { description: "An admin verified the audit chain." },
} as const satisfies AuditVocabulary;

declare module "./vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof CORE_EVENTS, true> {}
}
