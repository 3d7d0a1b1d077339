// The mfa routes: enabling TOTP. Setup and disable need the password, counted like a login, so they
// are the signin module's routes, as is the second step of login.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { clientMeta } from "../../http/client-meta.js";
import { EnableBody, EnableResult } from "./schema.js";
import type { MfaService } from "./service.js";

/** Registers the mfa routes. */
export async function mfaRoutes(app: FastifyInstance, mfa: MfaService): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/api/auth/mfa/totp/enable",
    {
      schema: { body: EnableBody, response: { 200: EnableResult } },
      config: { auth: "user", rateLimit: "sensitive", audit: "mfa.enable" },
    },
    async (req) => mfa.enable(req.principal!.userId, req.body.code, clientMeta(req)),
  );
}
