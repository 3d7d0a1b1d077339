// The accounts routes: register, the user's own view, verification and reset, and the admin views.
// Login and the changes that need the password again are the signin module's.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { requestActor } from "../audit/index.js";
import { clientMeta } from "../sessions/index.js";
import {
  AcceptInvitationBody,
  Accepted,
  ForgotBody,
  InvitationBody,
  InvitationEnvelope,
  InvitationList,
  InvitationParams,
  RegisterBody,
  ResetBody,
  SetupBody,
  UserEnvelope,
  UserList,
  UserListQuery,
  UserParams,
  VerifyEmailBody,
} from "./schema.js";
import type { AccountService } from "./service.js";
import { NoBody } from "../../http/schemas.js";

/** Registers the accounts routes. */
export async function accountRoutes(app: FastifyInstance, accounts: AccountService): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/api/auth/register",
    {
      schema: { body: RegisterBody, response: { 201: UserEnvelope } },
      config: { auth: "public", rateLimit: "auth-register", audit: "user.register" },
    },
    async (req, reply) => reply.code(201).send({ user: await accounts.register(req.body, clientMeta(req)) }),
  );

  // The setup link's form: refusals are audited by the service with their reason (admin.setup).
  r.post(
    "/api/setup/admin",
    {
      schema: { body: SetupBody, response: { 201: UserEnvelope } },
      config: { auth: "public", rateLimit: "auth-login" },
    },
    async (req, reply) => reply.code(201).send({ user: await accounts.completeSetup(req.body, clientMeta(req)) }),
  );

  r.get(
    "/api/users/me",
    {
      schema: { response: { 200: UserEnvelope } },
      config: { auth: "user", rateLimit: "default" },
    },
    async (req) => ({ user: await accounts.me(req.principal!.userId) }),
  );

  r.post(
    "/api/auth/email/verify/request",
    {
      schema: { body: NoBody },
      config: { auth: "user", rateLimit: "sensitive", audit: "email.verify_request" },
    },
    async (req, reply) => {
      await accounts.requestVerification(req.principal!.userId, clientMeta(req));
      return reply.code(202).send();
    },
  );

  r.post(
    "/api/auth/email/verify",
    {
      schema: { body: VerifyEmailBody },
      // The token is the credential (256 bits): no session needed, so the link works in any browser and
      // proves the address. Sent with the account's own session, it also grants an admin address's role
      // (public, not optional: stale credentials are ignored rather than refused, so the link always works).
      config: { auth: "public", rateLimit: "auth-login", audit: "email.verified" },
    },
    async (req, reply) => {
      const principal = req.principal;
      const sessionUserId = principal?.type === "user" && principal.sessionId ? principal.userId : undefined;
      await accounts.verifyEmail(req.body.token, clientMeta(req), sessionUserId);
      return reply.code(204).send();
    },
  );

  r.post(
    "/api/auth/email/undo",
    {
      schema: { body: VerifyEmailBody },
      // The token (mailed to the old address) is the credential: the owner may have no session left.
      config: { auth: "public", rateLimit: "auth-login", audit: "email.change_undone" },
    },
    async (req, reply) => {
      await accounts.undoEmailChange(req.body.token, clientMeta(req));
      return reply.code(204).send();
    },
  );

  r.post(
    "/api/auth/password/forgot",
    {
      schema: { body: ForgotBody, response: { 202: Accepted } },
      // Per IP here (the login budget) and per hour in the service; per address in the service, silently.
      config: { auth: "public", rateLimit: "auth-login", audit: "password.reset_request" },
    },
    async (req, reply) => {
      await accounts.forgotPassword(req.body.email, clientMeta(req), req.body.redirect_to);
      // Known address or not, the same status and body: the answer must not tell who has an account.
      return reply.code(202).send({ status: "accepted" });
    },
  );

  r.post(
    "/api/auth/password/reset",
    {
      schema: { body: ResetBody },
      config: { auth: "public", rateLimit: "auth-login", audit: "password.reset" },
    },
    async (req, reply) => {
      await accounts.resetPassword(req.body.token, req.body.new_password, clientMeta(req));
      return reply.code(204).send();
    },
  );

  r.post(
    "/api/auth/invitations/accept",
    {
      schema: { body: AcceptInvitationBody, response: { 201: UserEnvelope } },
      // The token is the credential; the registration budget per IP, as for sign-up.
      config: { auth: "public", rateLimit: "auth-register", audit: "invitation.accept" },
    },
    async (req, reply) => reply.code(201).send({ user: await accounts.invitations.accept(req.body, clientMeta(req)) }),
  );

  r.post(
    "/api/admin/invitations",
    {
      schema: { body: InvitationBody, response: { 201: InvitationEnvelope } },
      config: { auth: "admin", rateLimit: "sensitive", audit: "invitation.create" },
    },
    async (req, reply) => {
      const { actor, ip, userAgent } = requestActor(req);
      return reply
        .code(201)
        .send({ invitation: await accounts.invitations.create({ userId: actor.userId, ip, userAgent }, req.body) });
    },
  );

  r.get(
    "/api/admin/invitations",
    {
      schema: { response: { 200: InvitationList } },
      config: { auth: "admin", rateLimit: "default" },
    },
    async () => ({ invitations: await accounts.invitations.list() }),
  );

  r.delete(
    "/api/admin/invitations/:id",
    {
      schema: { params: InvitationParams, body: NoBody },
      config: { auth: "admin", rateLimit: "default", audit: "invitation.revoke" },
    },
    async (req, reply) => {
      const { actor, ip, userAgent } = requestActor(req);
      await accounts.invitations.revoke({ userId: actor.userId, ip, userAgent }, req.params.id);
      return reply.code(204).send();
    },
  );

  r.get(
    "/api/admin/users",
    {
      schema: { querystring: UserListQuery, response: { 200: UserList } },
      config: { auth: "admin", rateLimit: "default" },
    },
    async (req) => accounts.list(req.query),
  );

  for (const [action, role, audit] of [
    ["promote", "admin", "user.promote"],
    ["demote", "user", "user.demote"],
  ] as const) {
    r.post(
      `/api/admin/users/:id/${action}`,
      {
        schema: { params: UserParams, body: NoBody, response: { 200: UserEnvelope } },
        config: { auth: "admin", rateLimit: "sensitive", audit },
      },
      async (req) => {
        const { actor, ip, userAgent } = requestActor(req);
        return { user: await accounts.setRole(req.params.id, role, { userId: actor.userId, ip, userAgent }) };
      },
    );
  }

  for (const [action, disabled, audit] of [
    ["disable", true, "user.disabled"],
    ["enable", false, "user.enabled"],
  ] as const) {
    r.post(
      `/api/admin/users/:id/${action}`,
      {
        schema: { params: UserParams, body: NoBody },
        config: { auth: "admin", rateLimit: "default", audit },
      },
      async (req, reply) => {
        const { actor, ip, userAgent } = requestActor(req);
        await accounts.setDisabled(req.params.id, disabled, { userId: actor.userId, ip, userAgent });
        return reply.code(204).send();
      },
    );
  }
}
