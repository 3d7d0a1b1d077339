// Health, readiness and Prometheus metrics. /health and /ready are exempt from rate limits (load
// balancers poll them); /metrics is guarded by METRICS_TOKEN, declared like any other guard.
import { defineModule } from "../module.js";
import { Health, Ready } from "./schema.js";

declare module "../module.js" {
  interface Services {
    observability: undefined;
  }
}

/** GET /health, GET /ready and GET /metrics. */
export const observabilityModule = defineModule({
  name: "observability",
  needs: [],
  create: () => undefined,
  async routes(app, _service, _use, { store, counters, metrics, readiness }) {
    app.get(
      "/health",
      {
        schema: { response: { 200: Health } },
        config: { auth: "public", rateLimit: false },
      },
      async () => ({ status: "ok" as const }),
    );

    app.get(
      "/ready",
      {
        schema: { response: { 200: Ready, 503: Ready } },
        config: { auth: "public", rateLimit: false },
      },
      async (req, reply) => {
        const [database, cache, others] = await Promise.all([
          store.ping().then(
            () => "ok" as const,
            (error: unknown) => {
              req.log.warn({ err: (error as Error).message }, "readiness: database down");
              return "down" as const;
            },
          ),
          counters.ping(),
          readiness(),
        ]);
        // Without the database nothing works: 503 takes the instance out of rotation. Without Redis,
        // limits still hold per instance, so the instance stays in, reported degraded. An upstream
        // that is down (gateway mode) is down for every instance: taking them all out of rotation
        // would not bring it back and would stop sign-ins too, so it is reported degraded as well.
        const down = Object.values(others).includes("down");
        const status = database === "down" ? "unavailable" : cache === "degraded" || down ? "degraded" : "ok";
        return reply.code(database === "down" ? 503 : 200).send({ status, checks: { database, cache, ...others } });
      },
    );

    // Scrapers poll without limits; the token is compared in constant time by the authorize hook.
    app.get(
      "/metrics",
      {
        config: { auth: { token: "metrics" }, rateLimit: false },
      },
      async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  },
});
