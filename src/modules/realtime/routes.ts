// The realtime routes: a ticket bought with the caller's credentials, and the WebSocket it opens.
import websocket from "@fastify/websocket";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { errors } from "../../core/errors.js";
import { NoBody } from "../../http/schemas.js";
import type { AccountService } from "../accounts/index.js";
import type { SessionService } from "../sessions/index.js";
import type { RealtimeService } from "./service.js";
import { TICKET_PATTERN, type TicketClaims } from "./tickets.js";

/** RFC 6455 caps one frame here: a bigger one closes the socket with 1009 before it is buffered. */
export const MAX_FRAME_BYTES = 64 * 1024;

const TicketReply = Type.Object({ ticket: Type.String(), expires_in: Type.Integer() }, { additionalProperties: false });
const UpgradeQuery = Type.Object({ ticket: Type.String({ pattern: TICKET_PATTERN }) }, { additionalProperties: false });

type Deps = {
  realtime: RealtimeService;
  sessions: SessionService;
  accounts: Pick<AccountService, "sessionUser">;
  corsOrigins: readonly string[];
};

/** Registers POST /api/realtime/ticket and the WebSocket GET /api/realtime. */
export async function realtimeRoutes(app: FastifyInstance, deps: Deps): Promise<void> {
  const { realtime, sessions, accounts } = deps;
  const origins = new Set(deps.corsOrigins.filter((o) => o !== "*" && o !== "null"));
  const admitted = new WeakMap<FastifyRequest, TicketClaims>();

  await app.register(websocket, {
    // No permessage-deflate: compression bombs and compression side channels (CRIME-style) are out,
    // and it costs memory per socket. maxPayload: a bigger frame closes the socket with 1009.
    options: { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false },
    // On close, our own sockets get 1001 (and are cut a second later if the client does not
    // answer), so a graceful shutdown never waits on a silent client.
    preClose(done) {
      realtime.stop();
      done();
    },
  });
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  // A session-bound user only: an API key or an outside token has no session whose end would close the socket.
  r.post(
    "/api/realtime/ticket",
    {
      schema: { body: NoBody, response: { 201: TicketReply } },
      config: { auth: "user", rateLimit: "default" },
    },
    async (req, reply) => {
      const p = req.principal!;
      if (p.type !== "user" || !p.sessionId)
        throw errors.forbidden("realtime tickets are for signed-in users (an access token of a session)");
      // The socket lives no longer than its session: it is closed at the session's absolute expiry.
      const sessionEndsAt = await sessions.liveUntil(p.sessionId);
      if (sessionEndsAt === undefined) throw errors.unauthorized("session ended");
      return reply
        .code(201)
        .send(await realtime.tickets.issue({ userId: p.userId, sessionId: p.sessionId, sessionEndsAt, ip: req.ip }));
    },
  );

  // `public`: the one-time ticket is the credential (checked below, before the upgrade).
  r.get(
    "/api/realtime",
    {
      websocket: true,
      schema: { querystring: UpgradeQuery },
      config: { auth: "public", rateLimit: "default" },
      preHandler: async (req) => {
        // Cross-site WebSocket hijacking: a browser always sends Origin, and only our own front ends may open sockets.
        const origin = req.headers.origin;
        if (origin === undefined || !origins.has(origin)) throw errors.forbidden("origin not allowed");
        if (req.headers.upgrade?.toLowerCase() !== "websocket")
          throw errors.invalid("this route only upgrades to a WebSocket");
        const claims = await realtime.tickets.take(req.query.ticket);
        // One answer for unknown, used and expired tickets.
        if (!claims)
          throw errors.unauthorized("invalid or expired ticket; get a new one from POST /api/realtime/ticket");
        // A ticket leaked from the page (a log, a referrer) is useless from another address.
        if (claims.ip !== req.ip)
          throw errors.unauthorized("invalid or expired ticket; get a new one from POST /api/realtime/ticket");
        if (sessions.isRevoked(claims.sessionId)) throw errors.unauthorized("session ended");
        const user = await accounts.sessionUser(claims.userId);
        if (!user || user.disabled) throw errors.unauthorized("account unavailable");
        realtime.admit(claims.userId, req.ip);
        admitted.set(req, claims);
      },
    },
    (socket, req) => {
      const claims = admitted.get(req);
      if (!claims) {
        socket.close(1011, "not admitted");
        return;
      }
      // Revoked between the check above and now: the listener already ran, so close here.
      if (sessions.isRevoked(claims.sessionId)) {
        socket.close(1008, "session ended");
        return;
      }
      const c = realtime.add(socket, claims);
      // An upgraded request never reaches onResponse: this is its log line (the route, never the URL with its ticket).
      req.log.info({ method: "GET", route: "/api/realtime", status: 101, user: claims.userId }, "websocket open");
      socket.once("close", (code) =>
        req.log.info({ route: "/api/realtime", code, user: claims.userId }, "websocket closed"),
      );
      socket.on("message", (data, isBinary) => {
        realtime.receive(c, data as Buffer, isBinary).catch(() => socket.terminate());
      });
      socket.on("error", () => socket.terminate());
    },
  );
}
