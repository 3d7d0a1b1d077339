// The mfa routes: the second step of login, and TOTP setup, enable and disable.
import type { FastifyInstance } from "fastify";
import { clientMeta, sendPair, type CookieJar } from "../sessions/index.js";
import { TokenPair } from "../sessions/schema.js";
import { DisableBody, EnableBody, EnableResult, SetupBody, SetupResult, VerifyBody } from "./schema.js";
import type { MfaService } from "./service.js";

/** Registers the mfa routes. */
export async function mfaRoutes(app: FastifyInstance, { mfa, jar }: { mfa: MfaService; jar: CookieJar }): Promise<void> {
  app.post("/api/auth/mfa/verify", {
    schema: { body: VerifyBody, response: { 200: TokenPair } },
    // Shares the login budget per IP; the service audits every outcome with the user it concerns.
    config: { rateLimit: "auth-login" },
  }, async (req, reply) => {
    const body = req.body as { mfa_token: string; code: string };
    const { pair, useCookies } = await mfa.verify(body.mfa_token, body.code, clientMeta(req));
    // Cookies when the login that started this asked for them.
    return sendPair(reply, jar, pair, useCookies);
  });

  app.post("/api/auth/mfa/totp/setup", {
    schema: { body: SetupBody, response: { 200: SetupResult } },
    config: { auth: "user", rateLimit: "sensitive", audit: "mfa.totp_setup" },
  }, async (req) => mfa.setup(req.principal!.userId, (req.body as { password: string }).password, clientMeta(req)));

  app.post("/api/auth/mfa/totp/enable", {
    schema: { body: EnableBody, response: { 200: EnableResult } },
    config: { auth: "user", rateLimit: "sensitive", audit: "mfa.enable" },
  }, async (req) => mfa.enable(req.principal!.userId, (req.body as { code: string }).code, clientMeta(req)));

  app.post("/api/auth/mfa/totp/disable", {
    schema: { body: DisableBody },
    config: { auth: "user", rateLimit: "sensitive", audit: "mfa.disable" },
  }, async (req, reply) => {
    const body = req.body as { password: string; code: string };
    await mfa.disable(req.principal!.userId, body.password, body.code, clientMeta(req));
    return reply.code(204).send();
  });
}
