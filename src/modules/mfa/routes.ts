// The mfa routes: TOTP setup, enable and disable. The second step of login is the signin module's.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { clientMeta } from "../../http/client-meta.js";
import { DisableBody, EnableBody, EnableResult, SetupBody, SetupResult } from "./schema.js";
import type { MfaService } from "./service.js";

/** Registers the mfa routes. */
export async function mfaRoutes(app: FastifyInstance, mfa: MfaService): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post("/api/auth/mfa/totp/setup", {
    schema: { body: SetupBody, response: { 200: SetupResult } },
    config: { auth: "user", rateLimit: "sensitive", audit: "mfa.totp_setup" },
  }, async (req) => mfa.setup(req.principal!.userId, req.body.password, clientMeta(req)));

  r.post("/api/auth/mfa/totp/enable", {
    schema: { body: EnableBody, response: { 200: EnableResult } },
    config: { auth: "user", rateLimit: "sensitive", audit: "mfa.enable" },
  }, async (req) => mfa.enable(req.principal!.userId, req.body.code, clientMeta(req)));

  r.post("/api/auth/mfa/totp/disable", {
    schema: { body: DisableBody },
    config: { auth: "user", rateLimit: "sensitive", audit: "mfa.disable" },
  }, async (req, reply) => {
    await mfa.disable(req.principal!.userId, req.body.password, req.body.code, clientMeta(req));
    return reply.code(204).send();
  });
}
