// Webhooks: inbound events verified, stored once and handed to handlers in one transaction; outbound
// security events queued durably (in the transaction of the audit event they report), signed per
// Standard Webhooks and delivered by a worker with back-off. It never sees a request.
import type { IncomingHttpHeaders } from "node:http";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Config } from "../../config/types.js";
import type { Clock } from "../../core/clock.js";
import { AppError, errors } from "../../core/errors.js";
import type { Keyring } from "../../core/crypto/index.js";
import { newId } from "../../core/ids.js";
import type { Database } from "../../store/db.js";
import type { AccountService } from "../accounts/index.js";
import type { AuditEventSpec, AuditEventView, AuditService } from "../audit/index.js";
import { send, DELIVERY_TIMEOUT_MS, type SendResult } from "./delivery.js";
import type {
  DeliveryView,
  EndpointView,
  EventView,
  OutboundEvent,
  WebhookContext,
  WebhookEvent,
  WebhookHandler,
} from "./schema.js";
import { newEndpointSecret, signStandard, verifyStandard, verifyStripe, type RejectReason } from "./signatures.js";
import { isPrivateAddress, literalAddress } from "./ssrf.js";
import * as store from "./store.js";

export type WebhookDeps = {
  db: Database;
  clock: Clock;
  audit: AuditService;
  keyring: Keyring;
  /** Owns `users`: billing plans from Stripe events are set through it. */
  accounts: Pick<AccountService, "setPlan" | "forget" | "requireVerifiedEmail">;
  config: Config["webhooks"] & { production: boolean };
  onError?: (error: unknown, what: string) => void;
  /** Where the webhook counters are registered (the app's metrics registry). */
  registry?: Registry;
  /** Replaces the HTTP sender (tests of the worker's bookkeeping); defaults to the guarded POST. */
  sender?: typeof send;
};

export type ClientMeta = { ip: string | null; userAgent: string | null };

/**
 * Seconds to wait after failed attempt n (1-based) before the next: 5 s, 5 min, 30 min, 2 h, 5 h,
 * 10 h, 10 h — eight attempts over about 27 hours (the schedule of Standard Webhooks senders).
 */
export const RETRY_SCHEDULE_SECONDS = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000] as const;
export const MAX_ATTEMPTS = RETRY_SCHEDULE_SECONDS.length + 1;
/** How long a claimed delivery stays invisible to other workers: longer than one request can take. */
const LEASE_MS = DELIVERY_TIMEOUT_MS + 50_000;
const CLAIM_BATCH = 20;
const WORKER_INTERVAL_MS = 2_000;
const PLAN = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * The outbound event an audit event becomes, as its module declared it (`auditEvents`): lockouts
 * and refresh-token reuse are recorded as `denied` (the attempt was refused); everything else
 * reports a change that succeeded.
 */
export function outboundEventFor(
  vocabulary: ReadonlyMap<string, AuditEventSpec>,
  event: Pick<AuditEventView, "event_type" | "result">,
): OutboundEvent | undefined {
  const webhook = vocabulary.get(event.event_type)?.webhook;
  return webhook && webhook.results.includes(event.result) ? webhook.event : undefined;
}

/** Whether a handler's pattern (`type`, `prefix.*` or `*`) covers an event type. */
export function matchesType(pattern: string, type: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const asRecord = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/**
 * The plan a Stripe event gives the user named in its metadata (`bulwark_user_id`), or undefined
 * when the event says nothing usable. Plan names: `metadata.bulwark_plan` when set; else, for a
 * subscription, its first item's price `lookup_key`, then the price id; else `paid`. A deleted
 * subscription, or one whose status is no longer active/trialing/past_due, clears the plan (null).
 */
export function stripePlan(event: WebhookEvent): { userId: string; plan: string | null } | undefined {
  const object = asRecord(asRecord(asRecord(event.payload)?.data)?.object);
  const metadata = asRecord(object?.metadata);
  const userId = metadata?.bulwark_user_id;
  if (!object || typeof userId !== "string" || userId === "" || userId.length > 128) return undefined;
  const named = typeof metadata?.bulwark_plan === "string" ? metadata.bulwark_plan : undefined;
  let plan: string | null;
  if (event.type === "checkout.session.completed") {
    plan = named ?? "paid";
  } else if (event.type === "customer.subscription.deleted") {
    plan = null;
  } else if (["active", "trialing", "past_due"].includes(String(object.status))) {
    const items = asRecord(object.items)?.data;
    const price = asRecord(asRecord(Array.isArray(items) ? items[0] : undefined)?.price);
    const fromPrice =
      typeof price?.lookup_key === "string" ? price.lookup_key : typeof price?.id === "string" ? price.id : undefined;
    plan = named ?? fromPrice ?? "paid";
  } else {
    plan = null;
  }
  // A plan name is shown to clients and matched by app code: keep it a short plain token.
  if (plan !== null && !PLAN.test(plan)) return undefined;
  return { userId, plan };
}

export type WebhookService = ReturnType<typeof createWebhookService>;

/** Builds the webhooks service; `start()` runs the delivery worker, `stop()` ends it. */
export function createWebhookService(deps: WebhookDeps) {
  const { db, clock, audit, keyring, config } = deps;
  const sender = deps.sender ?? send;
  const handlers: { source: string; pattern: string; handler: WebhookHandler }[] = [];
  const registers = deps.registry ? [deps.registry] : [];
  // Labels come from configured sources and fixed outcomes only: a caller cannot grow the series.
  const inbound = new Counter({
    name: "bulwark_webhook_events_total",
    help: "Inbound webhook requests of configured sources, by outcome (accepted, duplicate, rejected, failed).",
    labelNames: ["source", "outcome"] as const,
    registers,
  });
  const outbound = new Counter({
    name: "bulwark_webhook_delivery_attempts_total",
    help: "Outbound webhook delivery attempts, by outcome (delivered, retry, gave_up).",
    labelNames: ["outcome"] as const,
    registers,
  });
  // Read from the database when scraped: the backlog is shared by every instance, so every
  // instance reports the same number (alert on max, not sum).
  new Gauge({
    name: "bulwark_webhook_deliveries_pending",
    help: "Outbound webhook deliveries waiting to be sent (all instances).",
    registers,
    async collect() {
      this.set(await store.countPending(db).catch(() => Number.NaN));
    },
  });
  const secretContext = (id: string) => ({ table: "webhook_endpoints", column: "secret", row: id });

  const reject = async (source: string, reason: RejectReason | "malformed_event", meta: ClientMeta): Promise<never> => {
    inbound.inc({ source, outcome: "rejected" });
    // Audited with the reason; the body is not stored (it is unauthenticated, attacker-chosen input).
    await audit
      .record({
        eventType: "webhook.rejected",
        result: "failure",
        actor: {},
        ip: meta.ip,
        userAgent: meta.userAgent,
        metadata: { source, reason },
      })
      .catch((error: unknown) => deps.onError?.(error, "audit write failed"));
    // One answer for every cause: the caller learns nothing about which check failed.
    throw new AppError("invalid_signature", "webhook signature, timestamp or format is invalid");
  };

  const onWebhook = (source: string, eventType: string, handler: WebhookHandler): void => {
    if (!/^[a-z0-9][a-z0-9-]{0,49}$/.test(source))
      throw new Error(`onWebhook: invalid source ${JSON.stringify(source)}`);
    if (!/^(\*|[A-Za-z0-9_.:-]+(\.\*)?)$/.test(eventType))
      throw new Error(`onWebhook: invalid event type ${JSON.stringify(eventType)}`);
    handlers.push({ source, pattern: eventType, handler });
  };

  // Built in: Stripe billing events set the plan of the user named in the event's metadata.
  const planHandler: WebhookHandler = async (event, tx, context) => {
    const change = stripePlan(event);
    if (!change) return;
    const updated = await deps.accounts.setPlan(tx, change.userId, change.plan);
    // The accounts module caches users on every instance: tell them all once the plan is committed.
    if (updated) context.afterCommit(() => deps.accounts.forget(change.userId));
  };
  onWebhook("stripe", "checkout.session.completed", planHandler);
  onWebhook("stripe", "customer.subscription.*", planHandler);

  /** Verifies, stores once and handles an inbound event. */
  const receive = async (input: {
    source: string;
    headers: IncomingHttpHeaders;
    body: Buffer;
    meta: ClientMeta;
  }): Promise<{ received: true; duplicate?: true }> => {
    const { source, headers, body, meta } = input;
    const secrets =
      source === "stripe"
        ? config.stripeSecrets
        : Object.hasOwn(config.sources, source)
          ? config.sources[source]
          : undefined;
    // An unconfigured source does not exist: 404, as for any unknown route.
    if (!secrets || secrets.length === 0) throw errors.notFound();
    const nowSeconds = Math.floor(clock.now() / 1000);
    const outcome =
      source === "stripe"
        ? verifyStripe(headers["stripe-signature"], body, secrets, nowSeconds, config.timestampTolerance)
        : verifyStandard(
            {
              id: headers["webhook-id"],
              timestamp: headers["webhook-timestamp"],
              signature: headers["webhook-signature"],
            },
            body,
            secrets,
            nowSeconds,
            config.timestampTolerance,
          );
    if (!outcome.ok) return reject(source, outcome.reason, meta);

    let payload: unknown;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      return reject(source, "malformed_event", meta);
    }
    const object = asRecord(payload);
    const eventId = source === "stripe" ? object?.id : headers["webhook-id"];
    const rawType = object?.type;
    if (!object || typeof eventId !== "string" || eventId === "" || eventId.length > 255)
      return reject(source, "malformed_event", meta);
    if (source === "stripe" && typeof rawType !== "string") return reject(source, "malformed_event", meta);
    const type = typeof rawType === "string" && rawType !== "" ? rawType.slice(0, 200) : "unknown";
    const event: WebhookEvent = { source, id: eventId, type, payload };
    const now = new Date(clock.now());
    const rowId = newId(now.getTime());
    const tasks: (() => Promise<void> | void)[] = [];
    const context: WebhookContext = {
      afterCommit: (task) => {
        tasks.push(task);
      },
    };

    let duplicate: boolean;
    try {
      duplicate = await db.transaction(async (tx) => {
        const fresh = await store.insertEvent(tx, {
          id: rowId,
          source,
          eventId,
          type,
          receivedAt: now,
          status: "processed",
          attempts: 1,
          processedAt: now,
        });
        if (!fresh) {
          // The row exists (or a concurrent delivery of the same event just committed it): this
          // lock waits for that transaction, so handlers never run twice for one event.
          const row = await store.lockEvent(tx, source, eventId);
          if (!row || row.status === "processed") return true;
          // A failed earlier attempt: this retry runs the handlers again.
          await store.markProcessed(tx, row.id, now);
        }
        for (const h of handlers)
          if (h.source === source && matchesType(h.pattern, type)) await h.handler(event, tx, context);
        await audit.record(
          {
            eventType: "webhook.received",
            result: "success",
            actor: {},
            ip: meta.ip,
            userAgent: meta.userAgent,
            target: eventId.slice(0, 256),
            metadata: { source, type },
          },
          tx,
        );
        return false;
      });
    } catch (error) {
      // The handlers' transaction rolled back; the failure is recorded in a write of its own so the
      // admin view shows it, and the provider's retry (after our 500) runs the handlers again.
      const message = (error instanceof Error ? error.message : String(error)).slice(0, 500) || "handler failed";
      inbound.inc({ source, outcome: "failed" });
      await store
        .recordFailure(db, { id: rowId, source, eventId, type, receivedAt: now, lastError: message })
        .catch((failure: unknown) => deps.onError?.(failure, "webhook failure record failed"));
      await audit
        .record({
          eventType: "webhook.failed",
          result: "failure",
          actor: {},
          ip: meta.ip,
          userAgent: meta.userAgent,
          target: eventId.slice(0, 256),
          metadata: { source, type },
        })
        .catch((failure: unknown) => deps.onError?.(failure, "audit write failed"));
      // Always a 500 (even when a handler threw an AppError): the provider must retry, and the
      // handler's message stays in the log and the admin view, not in the answer.
      throw new Error("webhook handler failed", { cause: error });
    }
    inbound.inc({ source, outcome: duplicate ? "duplicate" : "accepted" });
    if (duplicate) return { received: true, duplicate: true };
    for (const task of tasks) {
      try {
        await task();
      } catch (error) {
        deps.onError?.(error, "webhook after-commit task failed");
      }
    }
    return { received: true };
  };

  // Outbound: every mapped audit event queues one delivery per subscribed endpoint, in the audit
  // event's transaction, so a change that rolls back sends nothing and a committed one is never lost.
  audit.onRecord(
    async (event, tx) => {
      const type = outboundEventFor(audit.vocabulary(), event);
      if (!type) return;
      const endpoints = await store.endpointsFor(tx, type);
      if (endpoints.length === 0) return;
      const payload = JSON.stringify({
        type,
        timestamp: event.at,
        data: {
          audit_event_id: event.id,
          audit_event_type: event.event_type,
          user_id:
            (audit.vocabulary().get(event.event_type)?.targetIsUser ? event.target : event.actor.user_id) ?? null,
          actor: event.actor,
          target: event.target ?? null,
          ip: event.ip,
          user_agent: event.user_agent,
          metadata: event.metadata,
        },
      });
      const now = new Date(clock.now());
      await store.insertDeliveries(
        tx,
        endpoints.map((e) => ({
          id: `msg_${newId(now.getTime())}`,
          endpointId: e.id,
          eventType: type,
          payload,
          status: "pending" as const,
          attempts: 0,
          nextAttemptAt: now,
          createdAt: now,
        })),
      );
    },
    { results: ["success", "denied"] },
  );

  /** Refuses endpoint URLs that can never be delivered safely; the address itself is checked at delivery. */
  const checkUrl = (raw: string): URL => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw errors.invalid("url: must be an absolute http(s) URL", [{ path: "url", message: "invalid URL" }]);
    }
    // Only web URLs: file:, gopher:, ftp: … would reach things a webhook has no business touching.
    if (url.protocol !== "https:" && url.protocol !== "http:")
      throw errors.invalid("url: must use http or https", [{ path: "url", message: "must use http or https" }]);
    // In production, events (user ids, IPs) travel only encrypted.
    if (config.production && url.protocol !== "https:")
      throw errors.invalid("url: must use https in production", [{ path: "url", message: "must use https" }]);
    // Credentials in the URL would be stored and shown in clear; the signature authenticates us instead.
    if (url.username || url.password)
      throw errors.invalid("url: must not contain credentials", [
        { path: "url", message: "must not contain credentials" },
      ]);
    const literal = literalAddress(url);
    if (
      !config.allowPrivateTargets &&
      ((literal !== undefined && isPrivateAddress(literal)) ||
        url.hostname === "localhost" ||
        url.hostname.endsWith(".localhost"))
    ) {
      throw errors.invalid(
        "url: must be a public address (set WEBHOOK_ALLOW_PRIVATE_TARGETS=true for private networks)",
        [{ path: "url", message: "not a public address" }],
      );
    }
    return url;
  };

  const endpointView = (row: store.EndpointRow): EndpointView => ({
    id: row.id,
    url: row.url,
    events: row.events,
    created_at: row.createdAt.toISOString(),
  });

  /** Sends one claimed delivery and records the attempt; never throws for the receiver's failures. */
  const deliver = async (delivery: store.DeliveryRow): Promise<void> => {
    const endpoint = await store.findEndpoint(db, delivery.endpointId);
    if (!endpoint || endpoint.deletedAt) {
      await store.saveAttempt(
        db,
        { id: delivery.id, status: "cancelled" },
        {
          id: newId(clock.now()),
          deliveryId: delivery.id,
          attempt: delivery.attempts + 1,
          at: new Date(clock.now()),
          statusCode: null,
          error: "endpoint deleted",
          durationMs: 0,
        },
      );
      return;
    }
    const started = clock.now();
    let result: SendResult;
    try {
      const secret = keyring.decryptString(endpoint.secretEnc, secretContext(endpoint.id));
      // A fresh timestamp on every attempt (the id stays): receivers check it against their tolerance.
      const timestamp = Math.floor(started / 1000);
      const headers = {
        "webhook-id": delivery.id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signStandard(secret, delivery.id, timestamp, delivery.payload),
      };
      result = await sender(endpoint.url, headers, delivery.payload, { allowPrivate: config.allowPrivateTargets });
    } catch (error) {
      deps.onError?.(error, "webhook delivery failed");
      result = { statusCode: null, error: "internal error while sending" };
    }
    const now = clock.now();
    const attempt = delivery.attempts + 1;
    const ok = result.error === null;
    const patch: Partial<store.DeliveryRow> & { id: string } = {
      id: delivery.id,
      attempts: attempt,
      lastAttemptAt: new Date(now),
      lastStatusCode: result.statusCode,
      lastError: result.error,
    };
    outbound.inc({ outcome: ok ? "delivered" : attempt >= MAX_ATTEMPTS ? "gave_up" : "retry" });
    if (ok) Object.assign(patch, { status: "delivered", deliveredAt: new Date(now) });
    else if (attempt >= MAX_ATTEMPTS) patch.status = "failed";
    else patch.nextAttemptAt = new Date(now + RETRY_SCHEDULE_SECONDS[attempt - 1]! * 1000);
    await db.transaction((tx) =>
      store.saveAttempt(tx, patch, {
        id: newId(now),
        deliveryId: delivery.id,
        attempt,
        at: new Date(started),
        statusCode: result.statusCode,
        error: result.error,
        durationMs: Math.max(0, Math.round(now - started)),
      }),
    );
  };

  let chain: Promise<number> = Promise.resolve(0);
  let timer: NodeJS.Timeout | undefined;

  const runOnce = async (): Promise<number> => {
    let sent = 0;
    for (let round = 0; round < 50; round++) {
      const now = clock.now();
      // Claimed in a short transaction of its own: no transaction (or PGlite's one connection) is
      // held while a receiver takes its time to answer.
      const claimed = await db.transaction((tx) =>
        store.claimDue(tx, new Date(now), new Date(now + LEASE_MS), CLAIM_BATCH),
      );
      if (claimed.length === 0) break;
      await Promise.all(
        claimed.map((d) =>
          deliver(d).catch((error: unknown) => deps.onError?.(error, "webhook delivery bookkeeping failed")),
        ),
      );
      sent += claimed.length;
    }
    return sent;
  };

  /** Sends every due delivery (after any run already in progress here); resolves with how many were attempted. */
  const runDue = (): Promise<number> => {
    const next = chain.then(runOnce, runOnce);
    chain = next.catch(() => 0);
    return next;
  };

  return {
    onWebhook,
    receive,

    /** Admin: inbound events, newest first, filtered by source and status. */
    async listEvents(query: {
      source?: string | undefined;
      status?: string | undefined;
      cursor?: string | undefined;
      limit?: number | undefined;
    }): Promise<{ events: EventView[]; next_cursor: string | null }> {
      const limit = query.limit ?? 50;
      if (query.cursor !== undefined && !/^[0-9a-f]{32}$/.test(query.cursor))
        throw errors.invalid("cursor is malformed", [{ path: "cursor", message: "malformed cursor" }]);
      const rows = await store.listEvents(
        db,
        { source: query.source, status: query.status, beforeId: query.cursor },
        limit + 1,
      );
      const page = rows.slice(0, limit);
      return {
        events: page.map((r) => ({
          id: r.id,
          source: r.source,
          event_id: r.eventId,
          type: r.type,
          status: r.status,
          attempts: r.attempts,
          last_error: r.lastError,
          received_at: r.receivedAt.toISOString(),
          processed_at: iso(r.processedAt),
        })),
        next_cursor: rows.length > limit ? page.at(-1)!.id : null,
      };
    },

    /** Admin: registers an outbound endpoint; the secret is returned here only and stored encrypted. */
    async createEndpoint(
      input: { url: string; events: string[] },
      actor: ClientMeta & { userId: string | null },
    ): Promise<{ id: string; url: string; events: string[]; secret: string }> {
      // An endpoint receives every user's security events: an admin whose address nobody proved (an
      // operator may have promoted the wrong account) may not add one. An operator (no user) may.
      if (actor.userId !== null) await deps.accounts.requireVerifiedEmail(actor.userId, "adding a webhook endpoint");
      const url = checkUrl(input.url).toString();
      const now = new Date(clock.now());
      const id = newId(now.getTime());
      const secret = newEndpointSecret();
      await db.transaction(async (tx) => {
        await store.insertEndpoint(tx, {
          id,
          url,
          events: input.events,
          secretEnc: keyring.encrypt(secret, secretContext(id)),
          createdBy: actor.userId,
          createdAt: now,
        });
        await audit.record(
          {
            eventType: "webhook_endpoint.create",
            result: "success",
            actor: { userId: actor.userId },
            ip: actor.ip,
            userAgent: actor.userAgent,
            target: id,
            metadata: { url, events: input.events },
          },
          tx,
        );
      });
      return { id, url, events: input.events, secret };
    },

    /** Admin: the registered endpoints (never their secrets). */
    async listEndpoints(): Promise<EndpointView[]> {
      return (await store.listEndpoints(db)).map(endpointView);
    },

    /** Admin: removes an endpoint; what it still had queued is cancelled. */
    async deleteEndpoint(id: string, actor: ClientMeta & { userId: string | null }): Promise<void> {
      await db.transaction(async (tx) => {
        if (!(await store.deleteEndpoint(tx, id, new Date(clock.now()))))
          throw errors.notFound("no such webhook endpoint");
        await audit.record(
          {
            eventType: "webhook_endpoint.delete",
            result: "success",
            actor: { userId: actor.userId },
            ip: actor.ip,
            userAgent: actor.userAgent,
            target: id,
          },
          tx,
        );
      });
    },

    /** Admin: the delivery log of an endpoint, newest first. */
    async listDeliveries(endpointId: string, limit = 50): Promise<DeliveryView[]> {
      if (!(await store.findEndpoint(db, endpointId))) throw errors.notFound("no such webhook endpoint");
      return (await store.listDeliveries(db, endpointId, limit)).map(({ delivery: d, attempts }) => ({
        id: d.id,
        event_type: d.eventType,
        status: d.status,
        attempts: d.attempts,
        next_attempt_at: d.status === "pending" ? d.nextAttemptAt.toISOString() : null,
        last_status_code: d.lastStatusCode,
        last_error: d.lastError,
        created_at: d.createdAt.toISOString(),
        delivered_at: iso(d.deliveredAt),
        log: attempts.map((a) => ({
          attempt: a.attempt,
          at: a.at.toISOString(),
          status_code: a.statusCode,
          error: a.error,
          duration_ms: a.durationMs,
        })),
      }));
    },

    runDue,
    /** The worker's step, for tests and jobs: same as `runDue`. */
    tick: runDue,

    /** Starts the delivery worker (a timer; the queue itself lives in the database). */
    start(): void {
      if (timer) return;
      // A failed run (the database away) is reported once, not every 2 s; the next runs retry.
      let failing = false;
      timer = setInterval(() => {
        runDue().then(
          () => {
            failing = false;
          },
          (error: unknown) => {
            if (!failing) deps.onError?.(error, "webhook worker run failed; retrying every 2 s");
            failing = true;
          },
        );
      }, WORKER_INTERVAL_MS);
      timer.unref();
    },

    /** Stops the worker and waits for a run in progress (its claims would otherwise wait out their lease). */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await chain.catch(() => 0);
    },
  };
}
