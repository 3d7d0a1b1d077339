// The PUBLIC_* settings, and nothing else, for browsers: as a script (`/env.js`) and as JSON.
import { Type } from "typebox";
import { defineModule } from "../module.js";

declare module "../module.js" {
  interface Services {
    publicConfig: undefined;
  }
}

/** JSON that is also safe inside an inline <script>: no `</script>`, no `<!--`, no line separators. */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** GET /env.js and GET /api/config/public. */
export const publicConfigModule = defineModule({
  name: "publicConfig",
  needs: [],
  create: () => undefined,
  async routes(app, _service, _use, { config }) {
    const env = config.publicEnv;
    // Computed once: the values are fixed for the life of the process.
    const script = `window.ENV = ${scriptSafeJson(env)};\n`;

    app.get("/env.js", { config: { auth: "public", rateLimit: "default" } }, async (_req, reply) =>
      reply
        .type("application/javascript; charset=utf-8")
        // A front end on another origin loads this with <script src>: public data, so cross-origin is safe.
        .header("cross-origin-resource-policy", "cross-origin")
        .send(script),
    );

    app.get(
      "/api/config/public",
      {
        schema: { response: { 200: Type.Record(Type.String(), Type.String()) } },
        config: { auth: "public", rateLimit: "default" },
      },
      async () => env,
    );
  },
});
