// The audit module: a tamper-evident, append-only log of security events. The service is part of
// the kernel (every module records through it); this module adds the admin routes. Other modules
// never touch its tables.
import { defineModule } from "../module.js";
import { auditRoutes } from "./routes.js";
import type { AuditService } from "./service.js";

export { requestActor, type RequestActor } from "./actor.js";
export {
  CHAIN_HEAD_MARKER,
  createAuditService,
  type AuditDeps,
  type AuditListener,
  type AuditService,
} from "./service.js";
export {
  CORE_EVENTS,
  type AuditEventSpec,
  type AuditEventType,
  type AuditEventTypes,
  type AuditVocabulary,
} from "./vocabulary.js";
export type { AuditEvent, AuditEventView, AuditFilters, AuditPageView, AuditResult, VerifyResult } from "./schema.js";

declare module "../module.js" {
  interface Services {
    audit: AuditService;
  }
}

/** Admins read the log and verify the chain. */
export const auditModule = defineModule({
  name: "audit",
  needs: [],
  create: (kernel) => kernel.audit,
  routes: (app, audit, _use, { metrics }) => auditRoutes(app, audit, metrics),
  // Grouped events still waiting are written before the database closes.
  stop: (audit) => audit.flush(),
});
