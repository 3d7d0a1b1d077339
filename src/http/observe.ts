// One log line and the HTTP metrics per request, after the response: method, route template,
// status, time and request id. Never the query string, headers or body, so no secret can leak.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Metrics } from "../core/metrics.js";

/** An onResponse hook that logs the request and records http_requests_total and the duration histogram. */
export function observeHook(metrics: Metrics) {
  return async function observe(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    // The route template, not the URL: bounded label cardinality, and no ids or secrets from paths.
    const route = req.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    metrics.httpRequests.inc({ method: req.method, route, status });
    metrics.httpDuration.observe({ method: req.method, route }, ms / 1000);
    if (status === 401) metrics.authFailures.inc({ reason: route });
    req.log.info({ method: req.method, route, status, ms: Math.round(ms * 100) / 100 }, "request");
  };
}
