// POST /api/auth/introspect: other services ask whether an access token or API key is good and
// whose it is (RFC 7662 shape). The caller is a service holding an API key with the `introspect`
// scope; calls are counted in their own rate-limit class. See docs/introspection.md.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { defineModule } from "../module.js";
import { IntrospectBody, IntrospectResponse } from "./schema.js";
import { createIntrospectionService, type IntrospectionService } from "./service.js";

export { createIntrospectionService, type Introspection, type IntrospectionService } from "./service.js";

declare module "../module.js" {
  interface Services {
    introspection: IntrospectionService;
  }
}

/** Token and API key introspection for other services. */
export const introspectionModule = defineModule({
  name: "introspection",
  needs: ["tokens", "sessions", "apiKeys"],
  create: (_kernel, use) =>
    createIntrospectionService({ tokens: use("tokens"), sessions: use("sessions"), apiKeys: use("apiKeys") }),
  async routes(app, introspection) {
    app.withTypeProvider<TypeBoxTypeProvider>().post(
      "/api/auth/introspect",
      {
        schema: {
          summary: "Is this access token or API key active, and whose is it? (RFC 7662)",
          body: IntrospectBody,
          response: { 200: IntrospectResponse },
        },
        // Not audited: a resource server calls it for its users' requests, which are not events.
        config: { auth: { apiKey: "introspect" }, rateLimit: "introspect" },
      },
      async (req) => introspection.introspect(req.body.token),
    );
  },
});
