// Notifications between instances (revocations, key rotations): Redis pub/sub when REDIS_URL is set,
// an in-process emitter otherwise (one instance needs nobody else told).
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { redisClass } from "./redis.js";
import { oncePer } from "../core/throttle.js";

export type PubSub = {
  readonly kind: "memory" | "redis";
  /** Delivers `message` to every subscriber of `channel` on every instance, this one included. */
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for each message on `channel`, from any instance. */
  subscribe(channel: string, handler: (message: string) => void): Promise<void>;
  /**
   * Calls `handler` each time the subscription comes back after a lost connection: messages sent
   * meanwhile were missed, so whoever keeps state from them re-reads it (never called in memory).
   */
  onResubscribed(handler: () => void): void;
  close(): Promise<void>;
};

export type PubSubOptions = {
  redisUrl?: string | undefined;
  /** Namespace for channel names, so tests and deployments can share one Redis. */
  prefix?: string;
  onError?: (error: Error) => void;
};

/** Creates the pub/sub named by the options. */
export function createPubSub(options: PubSubOptions): PubSub {
  const prefix = options.prefix ?? "bw";
  const local = new EventEmitter();
  local.setMaxListeners(0);
  if (!options.redisUrl) {
    return {
      kind: "memory",
      async publish(channel, message) {
        local.emit(channel, message);
      },
      async subscribe(channel, handler) {
        local.on(channel, handler);
      },
      onResubscribed() {},
      async close() {
        local.removeAllListeners();
      },
    };
  }
  // A subscribed connection can do nothing else, so publishing needs a second one.
  const pub = new (redisClass())(options.redisUrl, { maxRetriesPerRequest: 2, commandTimeout: 1_000 });
  // Named, so an operator (and a test) can tell the subscriber apart in CLIENT LIST.
  const sub = new (redisClass())(options.redisUrl, { maxRetriesPerRequest: 2, connectionName: `${prefix}:sub` });
  // Both connections retry on their own; a Redis outage makes one report every 10 s, not one per attempt.
  const report = oncePer(10_000, options.onError);
  for (const client of [pub, sub]) client.on("error", report);
  // ioredis re-subscribes by itself on reconnect; "ready" after the first one means a gap to catch up on.
  const resubscribed: (() => void)[] = [];
  let connectedBefore = false;
  sub.on("ready", () => {
    if (connectedBefore)
      for (const handler of resubscribed) {
        try {
          handler();
        } catch (error) {
          options.onError?.(error as Error);
        }
      }
    connectedBefore = true;
  });
  sub.on("message", (channel: string, message: string) => {
    // Inside ioredis' socket handler: a subscriber that throws must not become an uncaught exception.
    try {
      local.emit(channel.slice(prefix.length + 1), message);
    } catch (error) {
      options.onError?.(error as Error);
    }
  });
  return {
    kind: "redis",
    async publish(channel, message) {
      await pub.publish(`${prefix}:${channel}`, message);
    },
    async subscribe(channel, handler) {
      local.on(channel, handler);
      await sub.subscribe(`${prefix}:${channel}`);
    },
    onResubscribed(handler) {
      resubscribed.push(handler);
    },
    async close() {
      local.removeAllListeners();
      await Promise.all([pub.quit().catch(() => pub.disconnect()), sub.quit().catch(() => sub.disconnect())]);
    },
  };
}

/** The bounded wait for one's own echo: a lost message must never hang a request. */
const ECHO_TIMEOUT_MS = 1_000;

export type Broadcast = {
  /** Starts applying the lists other instances (and this one) send. */
  subscribe(): Promise<void>;
  /**
   * Applies `ids` here at once, tells every instance, and resolves once our own message came back
   * through the channel (so every subscriber has had it), or after a second at most.
   */
  announce(ids: string[]): Promise<void>;
};

/** A channel of id lists (revoked sessions, changed keys) that every instance applies with `apply`. */
export function broadcast(
  pubsub: PubSub,
  channel: string,
  apply: (ids: string[]) => void,
  onError?: (error: Error) => void,
): Broadcast {
  const echoes = new Map<string, () => void>();
  return {
    async subscribe() {
      await pubsub.subscribe(channel, (message) => {
        // Runs inside Redis' event handler: a throw here (a malformed message) would be uncaught.
        try {
          const { ids, nonce } = JSON.parse(message) as { ids: string[]; nonce: string };
          apply(ids);
          echoes.get(nonce)?.();
        } catch (error) {
          onError?.(error as Error);
        }
      });
    },
    async announce(ids) {
      if (ids.length === 0) return;
      apply(ids);
      const nonce = randomBytes(8).toString("base64url");
      const echoed = new Promise<void>((resolve) => {
        echoes.set(nonce, resolve);
        setTimeout(resolve, ECHO_TIMEOUT_MS).unref();
      });
      try {
        await pubsub.publish(channel, JSON.stringify({ ids, nonce }));
        await echoed;
      } catch (error) {
        // Committed and applied here; other instances pick it up at their next reload.
        onError?.(error as Error);
      } finally {
        echoes.delete(nonce);
      }
    },
  };
}
