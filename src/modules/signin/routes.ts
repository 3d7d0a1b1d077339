// The signin routes: login and its second step, and the profile changes that need the password
// (and the second factor) again.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { clientMeta } from "../../http/client-meta.js";
import { PasswordBody, PatchMeBody, UserEnvelope, type AccountService } from "../accounts/index.js";
import { VerifyBody } from "../mfa/index.js";
import { sendPair, TokenPairSchema, type CookieJar } from "../sessions/index.js";
import { LoginBody, MfaRequired } from "./schema.js";
import type { SignInService } from "./service.js";

/** Registers the signin routes. */
export async function signInRoutes(app: FastifyInstance, signin: SignInService, accounts: AccountService, jar: CookieJar): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post("/api/auth/login", {
    schema: { body: LoginBody, response: { 200: Type.Union([TokenPairSchema, MfaRequired]) } },
    // No route-level audit: the service records every outcome with its reason (never the password).
    config: { auth: "public", rateLimit: "auth-login" },
  }, async (req, reply) => {
    const body = req.body;
    const deviceToken = body.device_token ?? jar.read(req)[jar.names.device];
    const useCookies = body.use_cookies === true;
    const result = await signin.login({ login: body.login, password: body.password, deviceToken, useCookies }, clientMeta(req));
    // Two-factor on: no cookies and no tokens yet, only the challenge.
    if ("mfa_required" in result) return result;
    return sendPair(reply, jar, result, useCookies);
  });

  r.post("/api/auth/mfa/verify", {
    schema: { body: VerifyBody, response: { 200: TokenPairSchema } },
    // Shares the login budget per IP; the service audits every outcome with the user it concerns.
    config: { auth: "public", rateLimit: "auth-login" },
  }, async (req, reply) => {
    const { pair, useCookies } = await signin.completeMfa(req.body.mfa_token, req.body.code, clientMeta(req));
    // Cookies when the login that started this asked for them.
    return sendPair(reply, jar, pair, useCookies);
  });

  r.patch("/api/users/me", {
    schema: { body: PatchMeBody, response: { 200: UserEnvelope } },
    config: { auth: "user", rateLimit: "sensitive", audit: "user.update" },
  }, async (req) => {
    const { current_password: password, code, ...patch } = req.body;
    const userId = req.principal!.userId;
    const meta = clientMeta(req);
    return { user: await accounts.update(userId, patch, meta, () => signin.stepUp(userId, { password, code }, meta)) };
  });

  r.post("/api/users/me/password", {
    schema: { body: PasswordBody },
    config: { auth: "user", rateLimit: "sensitive", audit: "password.changed" },
  }, async (req, reply) => {
    const { current_password: password, code, new_password } = req.body;
    const { userId, sessionId } = req.principal!;
    const meta = clientMeta(req);
    await accounts.changePassword(userId, sessionId, { new_password }, meta, () => signin.stepUp(userId, { password, code }, meta));
    return reply.code(204).send();
  });
}
