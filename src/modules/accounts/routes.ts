// The accounts routes: register, login, the user's own profile and password, and the admin views.
import type { FastifyInstance } from "fastify";
import { requestActor } from "../audit/index.js";
import { clientMeta, sendPair, type CookieJar, type SessionService } from "../sessions/index.js";
import { TokenPair } from "../sessions/schema.js";
import { Type } from "typebox";
import { Accepted, ForgotBody, LoginBody, MfaRequired, PasswordBody, PatchMeBody, RegisterBody, ResetBody, UserEnvelope, UserList, UserListQuery, UserParams, VerifyEmailBody } from "./schema.js";
import type { AccountService } from "./service.js";

type Options = { accounts: AccountService; sessions: SessionService; jar: CookieJar };

/** Registers the accounts routes. */
export async function accountRoutes(app: FastifyInstance, { accounts, sessions, jar }: Options): Promise<void> {
  app.post("/api/auth/register", {
    schema: { body: RegisterBody, response: { 201: UserEnvelope } },
    config: { rateLimit: "auth-register", audit: "user.register" },
  }, async (req, reply) => reply.code(201).send({ user: await accounts.register(req.body as never, clientMeta(req)) }));

  app.post("/api/auth/login", {
    schema: { body: LoginBody, response: { 200: Type.Union([TokenPair, MfaRequired]) } },
    // No route-level audit: the service records every outcome with its reason (never the password).
    config: { rateLimit: "auth-login" },
  }, async (req, reply) => {
    const body = req.body as { login: string; password: string; use_cookies?: boolean; device_token?: string };
    const deviceToken = body.device_token ?? jar.read(req)[jar.names.device];
    const useCookies = body.use_cookies === true;
    const result = await accounts.login({ login: body.login, password: body.password, deviceToken, useCookies }, clientMeta(req));
    // Two-factor on: no cookies and no tokens yet, only the challenge.
    if ("mfa_required" in result) return result;
    return sendPair(reply, jar, result, useCookies);
  });

  app.get("/api/users/me", { schema: { response: { 200: UserEnvelope } }, config: { auth: "user" } }, async (req) => ({
    user: await accounts.me(req.principal!.userId),
  }));

  app.patch("/api/users/me", {
    schema: { body: PatchMeBody, response: { 200: UserEnvelope } },
    config: { auth: "user", rateLimit: "sensitive", audit: "user.update" },
  }, async (req) => ({ user: await accounts.update(req.principal!.userId, req.body as never, clientMeta(req)) }));

  app.post("/api/users/me/password", {
    schema: { body: PasswordBody },
    config: { auth: "user", rateLimit: "sensitive", audit: "password.changed" },
  }, async (req, reply) => {
    await accounts.changePassword(req.principal!.userId, req.principal!.sessionId, req.body as never, clientMeta(req));
    return reply.code(204).send();
  });

  app.post("/api/auth/email/verify/request", {
    config: { auth: "user", rateLimit: "sensitive", audit: "email.verify_request" },
  }, async (req, reply) => {
    await accounts.requestVerification(req.principal!.userId, clientMeta(req));
    return reply.code(202).send();
  });

  app.post("/api/auth/email/verify", {
    schema: { body: VerifyEmailBody },
    // The token is the credential (256 bits): no session needed, so the link works in any browser.
    config: { rateLimit: "auth-login", audit: "email.verified" },
  }, async (req, reply) => {
    await accounts.verifyEmail((req.body as { token: string }).token, clientMeta(req));
    return reply.code(204).send();
  });

  app.post("/api/auth/password/forgot", {
    schema: { body: ForgotBody, response: { 202: Accepted } },
    // Per IP here (the login budget) and per hour in the service; per address in the service, silently.
    config: { rateLimit: "auth-login", audit: "password.reset_request" },
  }, async (req, reply) => {
    await accounts.forgotPassword((req.body as { email: string }).email, clientMeta(req));
    // Known address or not, the same status and body: the answer must not tell who has an account.
    return reply.code(202).send({ status: "accepted" });
  });

  app.post("/api/auth/password/reset", {
    schema: { body: ResetBody },
    config: { rateLimit: "auth-login", audit: "password.reset" },
  }, async (req, reply) => {
    const body = req.body as { token: string; new_password: string };
    await accounts.resetPassword(body.token, body.new_password, clientMeta(req));
    return reply.code(204).send();
  });

  app.get("/api/admin/users", {
    schema: { querystring: UserListQuery, response: { 200: UserList } },
    config: { auth: "admin" },
  }, async (req) => accounts.list(req.query as never));

  for (const [action, disabled] of [["disable", true], ["enable", false]] as const) {
    app.post(`/api/admin/users/:id/${action}`, {
      schema: { params: UserParams },
      config: { auth: "admin", audit: `user.${action}d` },
    }, async (req, reply) => {
      const { actor, ip, userAgent } = requestActor(req);
      await accounts.setDisabled((req.params as { id: string }).id, disabled, { userId: actor.userId ?? null, ip, userAgent });
      return reply.code(204).send();
    });
  }

  app.delete("/api/admin/users/:id/sessions", {
    schema: { params: UserParams },
    config: { auth: "admin", audit: "admin.sessions_revoked" },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const count = await sessions.revokeUser(id, { reason: "admin" });
    await app.bulwark.audit.record({ eventType: "admin.sessions_revoked", result: "success", ...requestActor(req), target: id, metadata: { count } });
    return reply.code(204).send();
  });
}
