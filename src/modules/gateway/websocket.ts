// WebSocket upgrades through the gateway, for rules with `websocket: true`. A browser cannot set
// headers on a WebSocket, so the caller is the cookie session (or a bearer token from a
// non-browser client); and because the browser sends cookies on a cross-site upgrade too
// (cross-site WebSocket hijacking), a cookie-authenticated upgrade must come from an allowed
// Origin. Then the upgrade is passed to the upstream with the same identity headers as any
// proxied request, and the two sockets are joined. A tunnel lives no longer than what admitted it:
// it is cut when its session is revoked (the sessions module's broadcast, the one the realtime
// channel listens to) and when its user changes so that the rule no longer admits them (disabled,
// or an admin rule and the role taken away; the accounts module's change broadcast), on every instance.
import { request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";
import type { FastifyRequest } from "fastify";
import { AppError, errors } from "../../core/errors.js";
import { authorize } from "../../http/auth.js";
import { securityHeaders } from "../../http/headers.js";
import { requestId } from "../../http/headers.js";
import type { Principal } from "../../http/types.js";
import { clientKey } from "../../http/client-ip.js";
import type { Counters } from "../../store/counters.js";
import type { AccountService } from "../accounts/index.js";
import type { SessionService } from "../sessions/index.js";
import { within, type ResolvedRule } from "./rules.js";
import { safeTarget } from "./routes.js";
import type { GatewayService } from "./service.js";

const BEARER_JWT = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/** Listens for upgrades on the server; returns a function that stops listening and ends the open tunnels. */
export function proxyUpgrades(
  server: Server,
  options: {
    gateway: GatewayService;
    sessions: SessionService;
    accounts: Pick<AccountService, "onChanged" | "sessionUser">;
    reserved: () => readonly string[];
    allowedOrigins: readonly string[];
    publicUrl: string;
    production: boolean;
    ip: (req: IncomingMessage) => string;
    counters: Counters;
    limits: { enabled: boolean; perMinute: number; perHour: number };
  },
): () => void {
  const rules = options.gateway.rules.filter((r) => r.websocket).sort((a, b) => b.prefix.length - a.prefix.length);
  const origins = new Set([...options.allowedOrigins, new URL(options.publicUrl).origin]);
  const headers = securityHeaders(options.production);
  const upstream = new URL(options.gateway.config.upstreamUrl);

  const refuse = (socket: Duplex, id: string, error: AppError) => {
    const body = JSON.stringify({ error: { code: error.code, message: error.message, request_id: id } });
    const lines = [
      `HTTP/1.1 ${error.status} ${error.code}`,
      "content-type: application/json; charset=utf-8",
      `content-length: ${Buffer.byteLength(body)}`,
      "connection: close",
      `x-request-id: ${id}`,
      ...Object.entries({ ...headers, ...error.headers }).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
  };

  // Open tunnels and who opened them under which rule: ended when that stops holding, and when the
  // app closes (an upgraded socket would otherwise hold the server open).
  const tunnels = new Map<Duplex, { principal: Principal | null; rule: ResolvedRule }>();
  let stopped = false;
  options.sessions.onRevoked((ids) => {
    if (stopped) return;
    const ended = new Set(ids);
    for (const [socket, { principal }] of tunnels)
      if (principal?.sessionId !== undefined && ended.has(principal.sessionId)) socket.destroy();
  });
  // A user changed (disabled, role taken away): each of their tunnels is admitted again with the
  // user as they are now, or cut. A failed look-up cuts too: a tunnel is not kept on a doubt.
  options.accounts.onChanged((ids) => {
    if (stopped) return;
    const changed = new Set(ids);
    for (const [socket, { principal, rule }] of tunnels) {
      if (!principal || !changed.has(principal.userId)) continue;
      void options.accounts
        .sessionUser(principal.userId)
        .then((user) => {
          if (!user || user.disabled) throw errors.unauthorized("account unavailable");
          authorize({ ...principal, role: user.role }, rule.auth);
        })
        .catch(() => socket.destroy());
    }
  });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = req.url ?? "/";
    const path = target.split("?", 1)[0]!;
    const rule = rules.find((r) => within(path, r.prefix));
    // Not ours: the listeners that were there before (Bulwark's own realtime channel) take it; none, 404.
    if (!rule) {
      if (others.length === 0) refuse(socket, requestId(req), errors.notFound());
      for (const listener of others) listener.call(server, req, socket, head);
      return;
    }
    const id = requestId(req);
    socket.on("error", () => socket.destroy());
    void admit(req, rule, target, path)
      .then(async (principal) => {
        const identity = await options.gateway.identity(principal, id, "GET", target);
        const forwarded = options.gateway.requestHeaders(req.headers, identity, {
          ip: options.ip(req),
          protocol: new URL(options.publicUrl).protocol.slice(0, -1),
          host: req.headers.host ?? "",
          id,
        });
        const out = (upstream.protocol === "https:" ? httpsRequest : httpRequest)({
          host: upstream.hostname,
          port: upstream.port || (upstream.protocol === "https:" ? 443 : 80),
          method: "GET",
          path: target,
          headers: {
            ...forwarded,
            host: upstream.host,
            connection: "Upgrade",
            upgrade: req.headers.upgrade ?? "websocket",
          },
          timeout: options.gateway.config.timeoutMs,
        });
        out.on("upgrade", (res, upstreamSocket, upstreamHead) => {
          const lines = ["HTTP/1.1 101 Switching Protocols"];
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            const name = res.rawHeaders[i]!.toLowerCase();
            if (name === "server" || name === "x-powered-by" || name === "set-cookie") continue;
            lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
          }
          socket.write(`${lines.join("\r\n")}\r\nx-request-id: ${id}\r\n\r\n`);
          if (upstreamHead.length > 0) socket.write(upstreamHead);
          if (head.length > 0) upstreamSocket.write(head);
          upstreamSocket.on("error", () => socket.destroy());
          socket.on("close", () => upstreamSocket.destroy());
          upstreamSocket.on("close", () => socket.destroy());
          // Revoked while the upstream was answering: the broadcast has passed, so check here.
          if (principal?.sessionId !== undefined && options.sessions.isRevoked(principal.sessionId)) {
            socket.destroy();
            upstreamSocket.destroy();
            return;
          }
          tunnels.set(socket, { principal, rule });
          socket.on("close", () => tunnels.delete(socket));
          upstreamSocket.pipe(socket);
          socket.pipe(upstreamSocket);
        });
        // The upstream declined the upgrade: its answer goes back as it is, and the socket closes.
        out.on("response", (res) => {
          const lines = [
            `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ""}`,
            "connection: close",
            `x-request-id: ${id}`,
            ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
          ];
          const type = res.headers["content-type"];
          if (type) lines.push(`content-type: ${type}`);
          socket.write(`${lines.join("\r\n")}\r\n\r\n`);
          res.pipe(socket);
        });
        out.on("timeout", () => out.destroy(new AppError("gateway_timeout", "the upstream did not answer in time")));
        out.on("error", (error) => {
          if (socket.writable)
            refuse(
              socket,
              id,
              error instanceof AppError ? error : new AppError("bad_gateway", "the upstream could not be reached"),
            );
        });
        out.end();
      })
      .catch((error: unknown) => {
        refuse(socket, id, error instanceof AppError ? error : new AppError("internal_error", "internal error"));
      });
  };

  /** Who is upgrading, if they may: the path, the Origin, the session, the rule's `auth`. */
  const admit = async (
    req: IncomingMessage,
    rule: ResolvedRule,
    target: string,
    path: string,
  ): Promise<Principal | null> => {
    if (options.reserved().some((r) => within(path, r))) throw errors.notFound();
    if (!safeTarget(target)) throw errors.invalid("the path cannot be forwarded as it is");
    const cookies = options.sessions.jar.read(req as unknown as FastifyRequest);
    const bearer = BEARER_JWT.exec(req.headers.authorization ?? "")?.[1];
    const token = bearer ?? cookies[options.sessions.jar.names.access];
    // A cookie rides along on a cross-site upgrade: only an allowed page may open the socket.
    if (!bearer && token && (req.headers.origin === undefined || !origins.has(req.headers.origin)))
      throw errors.forbidden("request origin not allowed");
    // Counted like any request, in the same per-minute and per-hour buckets (the user's, else the
    // IP's), before the session is looked up: a flood of upgrades is no way around the limits.
    const principal = token
      ? await options.sessions.resolve(token).catch(async (error: unknown) => {
          await limit(`ip:${clientKey(options.ip(req))}`);
          throw error;
        })
      : null;
    await limit(principal ? `user:${principal.userId}` : `ip:${clientKey(options.ip(req))}`);
    authorize(principal, rule.auth);
    return principal;
  };

  const limit = async (client: string): Promise<void> => {
    if (!options.limits.enabled) return;
    const hits = await options.counters.hitMany([
      { key: `minute:${client}`, limit: options.limits.perMinute, windowSeconds: 60 },
      { key: `hour:${client}`, limit: options.limits.perHour, windowSeconds: 3600 },
    ]);
    const refused = hits.find((h) => !h.allowed);
    if (refused) throw errors.rateLimited(refused.resetSeconds);
  };

  // One dispatcher for every upgrade: a path under a websocket rule is the gateway's alone, anything
  // else goes to the listeners already there (@fastify/websocket would otherwise route a gateway
  // path through Fastify too, and two answers would be written to one socket).
  const others = server.listeners("upgrade") as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
  server.removeAllListeners("upgrade");
  server.on("upgrade", onUpgrade);
  return () => {
    server.off("upgrade", onUpgrade);
    for (const listener of others) server.on("upgrade", listener);
    stopped = true;
    for (const socket of tunnels.keys()) socket.destroy();
  };
}
