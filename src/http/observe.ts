// One log line and the HTTP metrics per request, after the response: method, route template,
// status and time (the request id comes with the request's logger). Never the query string,
// headers or body, so no secret can leak.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Metrics } from "../core/metrics.js";

type Series = { count: { inc(): void }; duration: { observe(value: number): void } };

/** An onResponse hook that logs the request and records bulwark_http_requests_total and the duration histogram. */
export function observeHook(metrics: Metrics) {
  // prom-client hashes label values on every call; the labelled children are looked up once per series.
  const series = new Map<string, Series>();
  return function observe(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
    // The route template, not the URL: bounded label cardinality, and no ids or secrets from paths.
    const route = req.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    const id = `${req.method} ${route} ${status}`;
    let s = series.get(id);
    if (!s) {
      s = {
        count: metrics.httpRequests.labels(req.method, route, String(status)),
        duration: metrics.httpDuration.labels(req.method, route),
      };
      series.set(id, s);
    }
    s.count.inc();
    s.duration.observe(ms / 1000);
    req.log.info({ method: req.method, route, status, ms: Math.round(ms * 100) / 100 }, "request");
    done();
  };
}
