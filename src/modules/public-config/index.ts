// The PUBLIC_* settings, and nothing else, for browsers: as a script (`/env.js`) and as JSON.
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";

/** JSON that is also safe inside an inline <script>: no `</script>`, no `<!--`, no line separators. */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** Registers GET /env.js and GET /api/config/public. */
export async function publicConfigPlugin(app: FastifyInstance): Promise<void> {
  const env = app.bulwark.config.publicEnv;
  // Computed once: the values are fixed for the life of the process.
  const script = `window.ENV = ${scriptSafeJson(env)};\n`;

  app.get("/env.js", async (_req, reply) => reply
    .type("application/javascript; charset=utf-8")
    // A front end on another origin loads this with <script src>: public data, so cross-origin is safe.
    .header("cross-origin-resource-policy", "cross-origin")
    .send(script));

  app.get("/api/config/public", {
    schema: { response: { 200: Type.Record(Type.String(), Type.String()) } },
  }, async () => env);
}
