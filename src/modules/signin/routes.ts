// The signin routes: login and its second step, and the profile changes that need the password
// (and the second factor) again.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { clientMeta } from "../../http/client-meta.js";
import { PasswordBody, PatchMeBody, UserEnvelope, type AccountService } from "../accounts/index.js";
import { DisableBody, SetupBody, SetupResult, VerifyBody, type MfaService } from "../mfa/index.js";
import { sendPair, TokenPairSchema, type CookieJar } from "../sessions/index.js";
import { LoginBody, MfaRequired, StepUpBody, StepUpResult } from "./schema.js";
import type { SignInService } from "./service.js";

/** Registers the signin routes. */
export async function signInRoutes(
  app: FastifyInstance,
  signin: SignInService,
  accounts: AccountService,
  mfa: MfaService,
  jar: CookieJar,
): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  /** The device token a browser keeps as a cookie: exempts its owner from a back-off an attacker caused. */
  const deviceOf = (req: FastifyRequest) => jar.read(req)[jar.names.device];

  r.post(
    "/api/auth/login",
    {
      schema: { body: LoginBody, response: { 200: Type.Union([TokenPairSchema, MfaRequired]) } },
      // No route-level audit: the service records every outcome with its reason (never the password).
      config: { auth: "public", rateLimit: "auth-login" },
    },
    async (req, reply) => {
      const body = req.body;
      const deviceToken = body.device_token ?? jar.read(req)[jar.names.device];
      const useCookies = body.use_cookies === true;
      const result = await signin.login(
        { login: body.login, password: body.password, deviceToken, useCookies },
        clientMeta(req),
      );
      // Two-factor on: no cookies and no tokens yet, only the challenge.
      if ("mfa_required" in result) return result;
      return sendPair(reply, jar, result, useCookies);
    },
  );

  r.post(
    "/api/auth/mfa/verify",
    {
      schema: { body: VerifyBody, response: { 200: TokenPairSchema } },
      // Shares the login budget per IP; the service audits every outcome with the user it concerns.
      config: { auth: "public", rateLimit: "auth-login" },
    },
    async (req, reply) => {
      const { pair, useCookies } = await signin.completeMfa(req.body.mfa_token, req.body.code, clientMeta(req));
      // Cookies when the login that started this asked for them.
      return sendPair(reply, jar, pair, useCookies);
    },
  );

  r.patch(
    "/api/users/me",
    {
      schema: { body: PatchMeBody, response: { 200: UserEnvelope } },
      config: { auth: "user", rateLimit: "sensitive", audit: "user.update" },
    },
    async (req) => {
      const { current_password: password, code, ...patch } = req.body;
      const userId = req.principal!.userId;
      const meta = clientMeta(req);
      return {
        user: await accounts.update(userId, patch, meta, () =>
          signin.stepUp(userId, { password, code, deviceToken: deviceOf(req) }, meta),
        ),
      };
    },
  );

  r.post(
    "/api/users/me/password",
    {
      schema: { body: PasswordBody },
      config: { auth: "user", rateLimit: "sensitive", audit: "password.changed" },
    },
    async (req, reply) => {
      const { current_password: password, code, new_password } = req.body;
      const { userId, sessionId } = req.principal!;
      const meta = clientMeta(req);
      await accounts.changePassword(userId, sessionId, { new_password }, meta, () =>
        signin.stepUp(userId, { password, code, deviceToken: deviceOf(req) }, meta),
      );
      return reply.code(204).send();
    },
  );

  r.post(
    "/api/auth/step-up",
    {
      schema: { body: StepUpBody, response: { 200: StepUpResult } },
      // Counted like a login (the account's budget) and per principal here; the service audits every outcome.
      config: { auth: "user", rateLimit: "sensitive" },
    },
    async (req) => {
      const { userId, sessionId } = req.principal!;
      return signin.sudo(
        userId,
        sessionId,
        { password: req.body.password, code: req.body.code, deviceToken: deviceOf(req) },
        clientMeta(req),
      );
    },
  );

  r.post(
    "/api/auth/mfa/totp/setup",
    {
      schema: { body: SetupBody, response: { 200: SetupResult } },
      config: { auth: "user", rateLimit: "sensitive", audit: "mfa.totp_setup" },
    },
    async (req) => {
      const userId = req.principal!.userId;
      const meta = clientMeta(req);
      return mfa.setup(
        userId,
        () => signin.checkPassword(userId, req.body.password, "password", meta, deviceOf(req)),
        meta,
      );
    },
  );

  r.post(
    "/api/auth/mfa/totp/disable",
    {
      schema: { body: DisableBody },
      config: { auth: "user", rateLimit: "sensitive", audit: "mfa.disable" },
    },
    async (req, reply) => {
      const userId = req.principal!.userId;
      const meta = clientMeta(req);
      await mfa.disable(
        userId,
        () => signin.checkPassword(userId, req.body.password, "password", meta, deviceOf(req)),
        req.body.code,
        meta,
      );
      return reply.code(204).send();
    },
  );
}
