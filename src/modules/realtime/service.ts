// The realtime hub: this instance's WebSockets, fan-out of message events to them on every
// instance, and closing them when their session ends. Threat model:
// - credentials in URLs: only a one-time ticket is (tickets.ts); it is never logged;
// - cross-site WebSocket hijacking: the Origin must be one of CORS_ORIGINS (routes.ts);
// - resource exhaustion: per-user and per-IP connection caps, a per-connection frame rate and a
//   per-user send rate, a 64 KiB frame cap, no compression (no zip bombs, no CRIME-style leaks);
// - slow consumers: a socket whose unsent bytes pass REALTIME_MAX_BUFFERED_BYTES is dropped, so a
//   client that stops reading cannot make the server hold its messages;
// - revoked credentials: a socket belongs to a session; when the session is revoked, the user is
//   disabled or their password changes, the socket is closed with 1008 on whichever instance holds it;
//   and at the session's absolute expiry (REFRESH_TOKEN_TTL after sign-in), when no token of it works:
//   checked on every frame in either direction and by the heartbeat, so an idle socket goes too.
import type { WebSocket } from "ws";
import type { Config } from "../../config/types.js";
import type { Clock } from "../../core/clock.js";
import { AppError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { Counters } from "../../store/counters.js";
import type { PubSub } from "../../store/pubsub.js";
import type { MessageEvent, MessagesService } from "../messages/index.js";
import { createTickets, type Tickets } from "./tickets.js";

const EVENTS_CHANNEL = "realtime.events";
const REVOKE_CHANNEL = "realtime.revoke";
const ID = /^[0-9a-f]{32}$/;

/** WebSocket close codes Bulwark uses (RFC 6455 §7.4.1). */
export const CLOSE = { policy: 1008, tooBig: 1009, goingAway: 1001, tryAgain: 1013 } as const;

export type Connection = {
  readonly ws: WebSocket;
  readonly userId: string;
  readonly sessionId: string;
  /** The session's absolute expiry (ms since the epoch): the socket closes then. */
  readonly sessionEndsAt: number;
  readonly ip: string;
  alive: boolean;
  windowStart: number;
  frames: number;
  /** Frames of one socket are handled in order: a client's messages are stored in the order it sent them. */
  queue: Promise<void>;
};

export type RealtimeDeps = {
  clock: Clock;
  logger: Logger;
  pubsub: PubSub;
  counters: Counters;
  messages: MessagesService;
  settings: Config["realtime"];
};

export type RealtimeService = ReturnType<typeof createRealtimeService>;

/** Builds the hub; `start` subscribes to the channels. */
export function createRealtimeService(deps: RealtimeDeps) {
  const { clock, logger, pubsub, settings } = deps;
  const tickets: Tickets = createTickets({ clock, redis: deps.counters.redis });
  const byUser = new Map<string, Set<Connection>>();
  const perIp = new Map<string, number>();
  let dropped = 0;
  let heartbeat: NodeJS.Timeout | undefined;

  const each = function* (userId: string) {
    const set = byUser.get(userId);
    if (set) yield* set;
  };
  const all = function* () {
    for (const set of byUser.values()) yield* set;
  };

  /** Closes the socket if its session reached its absolute expiry; true when it did. */
  const expired = (c: Connection): boolean => {
    if (clock.now() < c.sessionEndsAt) return false;
    if (c.ws.readyState === c.ws.OPEN) c.ws.close(CLOSE.policy, "session expired");
    return true;
  };

  /**
   * Sends a frame unless the socket already holds too much unsent data: then the client is not
   * reading, and it is dropped (terminated at once: a close frame would queue behind the backlog).
   */
  const send = (c: Connection, frame: string): boolean => {
    if (c.ws.readyState !== c.ws.OPEN || expired(c)) return false;
    if (c.ws.bufferedAmount + Buffer.byteLength(frame) > settings.maxBufferedBytes) {
      dropped++;
      logger.warn({ user: c.userId }, "realtime: slow consumer dropped");
      c.ws.terminate();
      return false;
    }
    c.ws.send(frame);
    return true;
  };

  /** Delivers a frame to every socket of these users on this instance. */
  const deliverLocal = (userIds: readonly string[], frame: string): number => {
    let n = 0;
    for (const userId of userIds) for (const c of each(userId)) if (send(c, frame)) n++;
    return n;
  };

  const closeWhere = (match: (c: Connection) => boolean, reason: string): number => {
    let n = 0;
    for (const c of all()) {
      if (!match(c)) continue;
      c.ws.close(CLOSE.policy, reason);
      n++;
    }
    return n;
  };

  const onEvent = (event: MessageEvent) => {
    if (event.recipients.length === 0) return;
    const frame = JSON.stringify({ type: event.type, message: event.message });
    // Through the pub/sub even for one instance: the memory pub/sub delivers in this process, Redis to every instance.
    pubsub
      .publish(EVENTS_CHANNEL, JSON.stringify({ r: event.recipients, f: frame }))
      .catch((error: unknown) => logger.warn({ err: (error as Error).message }, "realtime: fan-out publish failed"));
  };

  /** Sends an error frame for a refused frame. */
  const reply = (c: Connection, error: unknown, ref: unknown) => {
    const known = error instanceof AppError;
    if (!known) logger.error({ err: (error as Error).message }, "realtime: frame failed");
    const code = known ? error.code : "internal_error";
    const message = known ? error.message : "internal error";
    send(c, JSON.stringify({ type: "error", code, message, ...(ref ? { ref } : {}) }));
  };

  /** Handles one frame within the rate: shape, then the messages service (the same call as REST). */
  const handle = async (c: Connection, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Promise<void> => {
    let ref: unknown;
    try {
      if (isBinary) throw new AppError("invalid_request", "frames are JSON text");
      let frame: unknown;
      try {
        frame = JSON.parse(
          Buffer.isBuffer(data)
            ? data.toString("utf8")
            : Array.isArray(data)
              ? Buffer.concat(data).toString("utf8")
              : Buffer.from(data).toString("utf8"),
        );
      } catch {
        throw new AppError("invalid_request", "frames are JSON text");
      }
      if (typeof frame !== "object" || frame === null || Array.isArray(frame))
        throw new AppError("invalid_request", "a frame is a JSON object with a `type`");
      const f = frame as Record<string, unknown>;
      ref = typeof f.ref === "string" && f.ref.length <= 64 ? f.ref : undefined;
      switch (f.type) {
        case "ping":
          send(c, JSON.stringify({ type: "pong", ...(ref ? { ref } : {}) }));
          return;
        case "message.send": {
          const unknown = Object.keys(f).filter((k) => !["type", "conversation_id", "body", "ref"].includes(k));
          if (unknown.length > 0) throw new AppError("invalid_request", `unknown field: ${unknown[0]!.slice(0, 64)}`);
          if (typeof f.conversation_id !== "string" || !ID.test(f.conversation_id))
            throw new AppError("invalid_request", "conversation_id: must be a conversation id");
          // The user's send budget, shared by all their sockets on every instance.
          const hit = await deps.counters.hit(`rt-send:${c.userId}`, settings.messagesPerMinute, 60);
          if (!hit.allowed)
            throw new AppError("rate_limited", "too many messages; slow down", {
              headers: { "retry-after": String(hit.resetSeconds) },
            });
          const message = await deps.messages.send(c.userId, f.conversation_id, f.body);
          send(c, JSON.stringify({ type: "message.sent", message_id: message.id, ...(ref ? { ref } : {}) }));
          return;
        }
        default:
          throw new AppError("invalid_request", "unknown frame type; send `message.send` or `ping`");
      }
    } catch (error) {
      reply(c, error, ref);
    }
  };

  return {
    tickets,
    settings,

    /** Subscribes to message events and to revocations from every instance; starts the heartbeat. */
    async start(): Promise<void> {
      deps.messages.listen(onEvent);
      await pubsub.subscribe(EVENTS_CHANNEL, (message) => {
        try {
          const { r, f } = JSON.parse(message) as { r: string[]; f: string };
          deliverLocal(r, f);
        } catch (error) {
          logger.warn({ err: (error as Error).message }, "realtime: malformed fan-out message");
        }
      });
      await pubsub.subscribe(REVOKE_CHANNEL, (message) => {
        try {
          const { userId, except } = JSON.parse(message) as { userId: string; except?: string };
          closeWhere((c) => c.userId === userId && c.sessionId !== except, "credentials revoked");
        } catch (error) {
          logger.warn({ err: (error as Error).message }, "realtime: malformed revocation message");
        }
      });
      // A client that did not answer the previous ping is gone (or idle past two intervals).
      heartbeat = setInterval(() => {
        for (const c of all()) {
          if (expired(c)) continue;
          if (!c.alive) {
            c.ws.terminate();
            continue;
          }
          c.alive = false;
          c.ws.ping();
        }
      }, settings.heartbeatSeconds * 1000);
      heartbeat.unref();
    },

    stop(): void {
      if (heartbeat) clearInterval(heartbeat);
      for (const c of all()) {
        c.ws.close(CLOSE.goingAway, "server shutting down");
        setTimeout(() => c.ws.terminate(), 1_000).unref();
      }
    },

    /** Refuses a new socket past the per-user or per-IP cap (429). */
    admit(userId: string, ip: string): void {
      if ((byUser.get(userId)?.size ?? 0) >= settings.maxConnectionsPerUser) {
        throw new AppError("rate_limited", "too many open connections for this user", {
          headers: { "retry-after": "60" },
        });
      }
      if ((perIp.get(ip) ?? 0) >= settings.maxConnectionsPerIp) {
        throw new AppError("rate_limited", "too many open connections from this address", {
          headers: { "retry-after": "60" },
        });
      }
    },

    /** Registers an open socket; it is forgotten when it closes. */
    add(ws: WebSocket, claims: { userId: string; sessionId: string; sessionEndsAt: number; ip: string }): Connection {
      const c: Connection = {
        ws,
        ...claims,
        alive: true,
        windowStart: clock.now(),
        frames: 0,
        queue: Promise.resolve(),
      };
      let set = byUser.get(c.userId);
      if (!set) byUser.set(c.userId, (set = new Set()));
      set.add(c);
      perIp.set(c.ip, (perIp.get(c.ip) ?? 0) + 1);
      ws.on("pong", () => {
        c.alive = true;
      });
      ws.once("close", () => {
        set.delete(c);
        if (set.size === 0 && byUser.get(c.userId) === set) byUser.delete(c.userId);
        const n = (perIp.get(c.ip) ?? 1) - 1;
        if (n <= 0) perIp.delete(c.ip);
        else perIp.set(c.ip, n);
      });
      return c;
    },

    /**
     * Takes one frame from a client. The rate is counted at once (a flood is refused without
     * queueing work); frames within it are handled in order, one at a time. The queue is bounded
     * by the rate: past twice REALTIME_MESSAGES_PER_MINUTE the socket is closed, after the frames
     * before it are done.
     */
    receive(c: Connection, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Promise<void> {
      if (expired(c)) return c.queue;
      c.alive = true;
      const now = clock.now();
      if (now - c.windowStart >= 60_000) {
        c.windowStart = now;
        c.frames = 0;
      }
      c.frames++;
      if (c.frames > settings.messagesPerMinute * 2) {
        if (c.frames === settings.messagesPerMinute * 2 + 1)
          c.queue = c.queue.then(() => c.ws.close(CLOSE.policy, "message rate exceeded"));
        return c.queue;
      }
      if (c.frames > settings.messagesPerMinute) {
        const retry = Math.ceil((c.windowStart + 60_000 - now) / 1000);
        // Refused before the frame is even parsed: the error carries no ref.
        reply(
          c,
          new AppError("rate_limited", "too many frames; slow down", { headers: { "retry-after": String(retry) } }),
          undefined,
        );
        return c.queue;
      }
      c.queue = c.queue.then(() => handle(c, data, isBinary));
      return c.queue;
    },

    /** Closes this instance's sockets of revoked sessions (any instance's revocation reaches here). */
    closeSessions: (ids: readonly string[]) => {
      const set = new Set(ids);
      return closeWhere((c) => set.has(c.sessionId), "session ended");
    },

    /** Tells every instance to close the user's sockets (all but one session's, when given). */
    async revokeUser(userId: string, except?: string): Promise<void> {
      await pubsub.publish(REVOKE_CHANNEL, JSON.stringify({ userId, ...(except ? { except } : {}) }));
    },

    /** Sockets of this user on this instance. */
    count: (userId?: string): number =>
      userId ? (byUser.get(userId)?.size ?? 0) : [...byUser.values()].reduce((n, s) => n + s.size, 0),
    /** Bytes waiting to be sent to this user's sockets on this instance. */
    bufferedBytes: (userId: string): number => [...each(userId)].reduce((n, c) => n + c.ws.bufferedAmount, 0),
    /** Sockets dropped as slow consumers since start. */
    dropped: () => dropped,
    /** Delivers a raw frame to these users' sockets on this instance (the fan-out's last step; benches use it). */
    deliverLocal,
  };
}
