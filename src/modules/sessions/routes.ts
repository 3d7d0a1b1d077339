// The sessions routes: refresh, logout, listing and ending sessions, whoami, and the admin's
// "end every session of this user".
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply } from "fastify";
import { errors } from "../../core/errors.js";
import { clientMeta } from "../../http/client-meta.js";
import { requestActor } from "../audit/index.js";
import type { CookieJar } from "./cookies.js";
import { RefreshBody, SessionList, SessionParams, TokenPair, UserSessionsParams, Whoami } from "./schema.js";
import type { SessionService, TokenPair as Pair } from "./service.js";
import { NoBody } from "../../http/schemas.js";

export { clientMeta } from "../../http/client-meta.js";

/** What a sign-in or refresh answers: the pair, or in cookie mode the pair without its tokens. */
export type PairAnswer = Pick<Pair, "token_type" | "expires_in" | "session_id"> &
  Partial<Pick<Pair, "access_token" | "refresh_token">>;

/** Answers with a token pair, or in cookie mode sets the cookies and leaves the tokens out of the body. */
export function sendPair(
  reply: FastifyReply,
  jar: CookieJar,
  pair: Pair & { device_token?: string },
  useCookies: boolean,
): PairAnswer {
  if (!useCookies) return pair;
  jar.setSession(reply, { access: pair.access_token, refresh: pair.refresh_token });
  if (pair.device_token) jar.setDevice(reply, pair.device_token);
  return { token_type: pair.token_type, expires_in: pair.expires_in, session_id: pair.session_id };
}

/** The audit actor of a request, as the service takes it. */
const actorOf = (req: Parameters<typeof requestActor>[0]) => {
  const { actor, ip, userAgent } = requestActor(req);
  return { ...actor, ip, userAgent };
};

/** Registers the sessions routes. */
export async function sessionRoutes(app: FastifyInstance, sessions: SessionService): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { jar } = sessions;

  r.post(
    "/api/auth/refresh",
    {
      schema: { body: RefreshBody, response: { 200: TokenPair } },
      // A 256-bit token cannot be guessed: refresh does not share the tight login budget (shared NATs).
      config: { auth: "public", rateLimit: "default", audit: "auth.refresh" },
    },
    async (req, reply) => {
      const body = req.body ?? {};
      let token = body.refresh_token;
      let fromCookie = false;
      if (!token) {
        const cookies = jar.read(req);
        token = cookies[jar.names.refresh];
        fromCookie = token !== undefined;
        // The refresh cookie is a credential the browser sends on its own: hold it to the CSRF rule.
        if (fromCookie) jar.checkCsrf(req, cookies);
      }
      if (!token) throw errors.unauthorized("refresh_token is required (in the body or the refresh cookie)");
      const pair = await sessions.refresh(token, clientMeta(req));
      return sendPair(reply, jar, pair, fromCookie || body.use_cookies === true);
    },
  );

  r.post(
    "/api/auth/logout",
    {
      schema: { body: NoBody },
      config: { auth: "user", rateLimit: "default", audit: "auth.logout" },
    },
    async (req, reply) => {
      await sessions.logout(req.principal!.userId, req.principal!.sessionId, actorOf(req));
      jar.clearSession(reply);
      return reply.code(204).send();
    },
  );

  r.get(
    "/api/sessions",
    {
      schema: { response: { 200: SessionList } },
      config: { auth: "user", rateLimit: "default" },
    },
    async (req) => ({ sessions: await sessions.list(req.principal!.userId, req.principal!.sessionId) }),
  );

  r.delete(
    "/api/sessions/:id",
    {
      schema: { params: SessionParams, body: NoBody },
      config: { auth: "user", rateLimit: "default", audit: "session.revoke" },
    },
    async (req, reply) => {
      // Someone else's session is "not found", exactly like a session that does not exist.
      if (!(await sessions.revoke(req.params.id, req.principal!.userId, actorOf(req))))
        throw errors.notFound("no such session");
      return reply.code(204).send();
    },
  );

  r.delete(
    "/api/sessions",
    {
      schema: { body: NoBody },
      config: { auth: "user", rateLimit: "default", audit: "session.revoke_others" },
    },
    async (req, reply) => {
      await sessions.revokeUser(req.principal!.userId, "user", actorOf(req), req.principal!.sessionId);
      return reply.code(204).send();
    },
  );

  r.delete(
    "/api/admin/users/:id/sessions",
    {
      schema: { params: UserSessionsParams, body: NoBody },
      config: { auth: "admin", rateLimit: "default", audit: "admin.sessions_revoked" },
    },
    async (req, reply) => {
      await sessions.revokeUser(req.params.id, "admin", actorOf(req));
      return reply.code(204).send();
    },
  );

  r.get(
    "/api/whoami",
    {
      schema: { response: { 200: Whoami } },
      config: { auth: "optional", rateLimit: "default" },
    },
    async (req) => {
      // Any kind of principal may ask who it is: users, API keys, outside identities.
      const p = req.principal;
      if (!p) throw errors.unauthorized();
      return {
        principal: {
          type: p.type,
          user_id: p.userId,
          role: p.role,
          ...(p.keyId ? { key_id: p.keyId } : {}),
          ...(p.sessionId ? { session_id: p.sessionId } : {}),
          ...(p.scopes ? { scopes: [...p.scopes] } : {}),
        },
      };
    },
  );
}
