// The audit module: a tamper-evident, append-only log of security events. This file is its only
// public surface: other modules record events through `app.bulwark.audit` (or the service given
// to them) and never touch its tables.
import type { FastifyInstance } from "fastify";
import { auditRoutes } from "./routes.js";

export { requestActor, type RequestActor } from "./actor.js";
export { CHAIN_HEAD_MARKER, createAuditService, type AuditDeps, type AuditListener, type AuditService } from "./service.js";
export type { AuditEvent, AuditEventView, AuditFilters, AuditPageView, AuditResult, VerifyResult } from "./schema.js";

/** Registers the admin audit routes over the service at `app.bulwark.audit`. */
export async function auditPlugin(app: FastifyInstance): Promise<void> {
  await auditRoutes(app, app.bulwark.audit);
}
