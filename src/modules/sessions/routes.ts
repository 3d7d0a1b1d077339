// The sessions routes: refresh, logout, listing and ending sessions, and whoami.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { errors } from "../../core/errors.js";
import { requestActor } from "../audit/index.js";
import type { CookieJar } from "./cookies.js";
import { RefreshBody, SessionList, SessionParams, TokenPair, Whoami } from "./schema.js";
import type { ClientMeta, SessionService, TokenPair as Pair } from "./service.js";

/** The client's IP and user agent, as sessions record them. */
export function clientMeta(req: FastifyRequest): ClientMeta {
  return { ip: req.ip ?? null, userAgent: req.headers["user-agent"]?.slice(0, 512) ?? null };
}

/** Answers with a token pair, or in cookie mode sets the cookies and leaves the tokens out of the body. */
export function sendPair(reply: FastifyReply, jar: CookieJar, pair: Pair & { device_token?: string }, useCookies: boolean): Pair | Record<string, unknown> {
  if (!useCookies) return pair;
  jar.setSession(reply, { access: pair.access_token, refresh: pair.refresh_token });
  if (pair.device_token) jar.setDevice(reply, pair.device_token);
  return { token_type: pair.token_type, expires_in: pair.expires_in, session_id: pair.session_id };
}

/** Registers the sessions routes. */
export async function sessionRoutes(app: FastifyInstance, { sessions, jar }: { sessions: SessionService; jar: CookieJar }): Promise<void> {
  const { audit } = app.bulwark;

  app.post("/api/auth/refresh", {
    schema: { body: RefreshBody, response: { 200: TokenPair } },
    // A 256-bit token cannot be guessed: refresh does not share the tight login budget (shared NATs).
    config: { audit: "auth.refresh" },
  }, async (req, reply) => {
    const body = (req.body ?? {}) as { refresh_token?: string; use_cookies?: boolean };
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
  });

  app.post("/api/auth/logout", { config: { auth: "user", audit: "auth.logout" } }, async (req, reply) => {
    const principal = req.principal!;
    if (principal.sessionId) await sessions.revoke(principal.sessionId, { userId: principal.userId, reason: "logout" });
    await audit.record({ eventType: "auth.logout", result: "success", ...requestActor(req), target: principal.sessionId ?? null });
    jar.clearSession(reply);
    return reply.code(204).send();
  });

  app.get("/api/sessions", { schema: { response: { 200: SessionList } }, config: { auth: "user" } }, async (req) => ({
    sessions: await sessions.list(req.principal!.userId, req.principal!.sessionId),
  }));

  app.delete("/api/sessions/:id", { schema: { params: SessionParams }, config: { auth: "user", audit: "session.revoke" } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    // Someone else's session is "not found", exactly like a session that does not exist.
    if (!(await sessions.revoke(id, { userId: req.principal!.userId, reason: "user" }))) throw errors.notFound("no such session");
    await audit.record({ eventType: "session.revoke", result: "success", ...requestActor(req), target: id });
    return reply.code(204).send();
  });

  app.delete("/api/sessions", { config: { auth: "user", audit: "session.revoke_others" } }, async (req, reply) => {
    const count = await sessions.revokeUser(req.principal!.userId, { reason: "user", ...(req.principal!.sessionId ? { except: req.principal!.sessionId } : {}) });
    await audit.record({ eventType: "session.revoke_others", result: "success", ...requestActor(req), metadata: { count } });
    return reply.code(204).send();
  });

  app.get("/api/whoami", { schema: { response: { 200: Whoami } }, config: { auth: "optional" } }, async (req) => {
    // Any kind of principal may ask who it is: users, API keys, outside identities.
    const p = req.principal;
    if (!p) throw errors.unauthorized();
    return {
      principal: {
        type: p.type, user_id: p.userId, role: p.role,
        ...(p.keyId ? { key_id: p.keyId } : {}),
        ...(p.sessionId ? { session_id: p.sessionId } : {}),
        ...(p.scopes ? { scopes: [...p.scopes] } : {}),
      },
    };
  });
}
