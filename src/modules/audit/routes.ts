// The audit routes: admins read the log and check the chain. Reading the log is itself audited.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { AuditPage, AuditQuery, VerifyResult } from "./schema.js";
import type { AuditService } from "./service.js";
import type { Metrics } from "../../core/metrics.js";
import { requestActor } from "./actor.js";

/** Registers GET /api/admin/audit-logs and GET /api/admin/audit-logs/verify. */
export async function auditRoutes(
  app: FastifyInstance,
  audit: AuditService,
  metrics: Pick<Metrics, "auditVerifications">,
): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/api/admin/audit-logs",
    {
      schema: { querystring: AuditQuery, response: { 200: AuditPage } },
      config: { auth: "admin", rateLimit: "default", audit: "audit_log.read" },
    },
    async (req) => {
      const q = req.query;
      const page = await audit.query({
        eventType: q.event_type,
        userId: q.user_id,
        ip: q.ip,
        result: q.result,
        since: q.since === undefined ? undefined : new Date(q.since),
        until: q.until === undefined ? undefined : new Date(q.until),
        cursor: q.cursor,
        limit: q.limit,
      });
      // Who looked at the log, and for what, is itself part of the trail.
      await audit.record({
        eventType: "audit_log.read",
        result: "success",
        ...requestActor(req),
        metadata: { filters: q, returned: page.events.length },
      });
      return { events: page.events, next_cursor: page.nextCursor };
    },
  );

  r.get(
    "/api/admin/audit-logs/verify",
    {
      schema: { response: { 200: VerifyResult } },
      config: { auth: "admin", rateLimit: "default", audit: "audit_log.verify" },
    },
    async (req) => {
      const outcome = await audit.verify();
      metrics.auditVerifications.inc({ result: outcome.ok ? "ok" : "broken" });
      // The answer matters more than its trail here: a chain too damaged to extend (no head) must still be reported.
      await audit
        .record({
          eventType: "audit_log.verify",
          result: outcome.ok ? "success" : "failure",
          ...requestActor(req),
          metadata: { ...outcome },
        })
        .catch((error: unknown) => req.log.error({ err: error }, "audit write failed"));
      return outcome;
    },
  );
}
