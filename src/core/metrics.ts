// Prometheus metrics (prom-client): one registry per app, so tests and several apps in one process
// do not share counts.
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

/** Creates the registry with the process metrics and the metrics every part of Bulwark records. */
export function createMetrics(options: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: "bulwark_http_requests_total",
      help: "HTTP requests by method, route template and status.",
      labelNames: ["method", "route", "status"] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "bulwark_http_request_duration_seconds",
      help: "HTTP request duration by method and route template.",
      labelNames: ["method", "route"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    rateLimitExceeded: new Counter({
      name: "bulwark_rate_limit_exceeded_total",
      help: "Requests refused by a rate limit, by policy.",
      labelNames: ["policy"] as const,
      registers: [registry],
    }),
    databaseUnavailable: new Counter({
      name: "bulwark_database_unavailable_total",
      help: "Requests answered 503 because the database could not be reached.",
      registers: [registry],
    }),
    auditVerifications: new Counter({
      name: "bulwark_audit_verifications_total",
      help: "Audit chain verifications run through the API, by result (ok, broken).",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    authFailures: new Counter({
      name: "bulwark_auth_failures_total",
      help: "Failed authentications, by reason.",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
  };
}
