// Health, readiness and Prometheus metrics. /health and /ready are exempt from rate limits (load
// balancers poll them); /metrics needs METRICS_TOKEN, compared in constant time.
import type { FastifyInstance } from "fastify";
import { errors } from "../../core/errors.js";
import { timingSafeEqualString } from "../../core/crypto/index.js";
import { Health, Ready } from "./schema.js";

/** Registers GET /health, GET /ready and GET /metrics. */
export async function observabilityPlugin(app: FastifyInstance): Promise<void> {
  const { store, counters, metrics, config } = app.bulwark;
  const expected = `Bearer ${config.metricsToken}`;

  app.get("/health", {
    schema: { response: { 200: Health } },
    config: { rateLimit: false },
  }, async () => ({ status: "ok" as const }));

  app.get("/ready", {
    schema: { response: { 200: Ready, 503: Ready } },
    config: { rateLimit: false },
  }, async (req, reply) => {
    const [database, cache] = await Promise.all([
      store.ping().then(() => "ok" as const, (error: unknown) => {
        req.log.warn({ err: (error as Error).message }, "readiness: database down");
        return "down" as const;
      }),
      counters.ping(),
    ]);
    // Without the database nothing works: 503 takes the instance out of rotation. Without Redis,
    // limits still hold per instance, so the instance stays in, reported degraded.
    const status = database === "down" ? "unavailable" : cache === "degraded" ? "degraded" : "ok";
    return reply.code(database === "down" ? 503 : 200).send({ status, checks: { database, cache } });
  });

  app.get("/metrics", { config: { rateLimit: false } }, async (req, reply) => {
    const given = req.headers.authorization ?? "";
    if (!timingSafeEqualString(given, expected)) throw errors.unauthorized("metrics need the METRICS_TOKEN bearer token");
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
