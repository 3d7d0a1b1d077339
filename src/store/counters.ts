// Counters for rate limits and one-shot events: fixed windows in memory, or on Redis (one Lua script
// per request, for all its windows) with the memory counters as insurance, so limits keep holding
// per instance while Redis is away.
import type { Redis } from "ioredis";
import { redisClass } from "./redis.js";
import { oncePer } from "../core/throttle.js";
import type { Clock } from "../core/clock.js";

export type Hit = {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window ends and the count starts again. */
  resetSeconds: number;
};

export type HitRequest = { key: string; limit: number; windowSeconds: number };

/** The Lua command defined on the Redis connection: INCR each key, and give a new one its TTL. */
type HitCommand = { bulwarkHit(numberOfKeys: number, ...args: (string | number)[]): Promise<unknown[]> };
const HIT_SCRIPT = `local counts = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[i]) end
  counts[i] = n
end
return counts`;

export type Counters = {
  readonly kind: "memory" | "redis";
  /** Counts one hit against `key` in the current fixed window of `windowSeconds`. */
  hit(key: string, limit: number, windowSeconds: number): Promise<Hit>;
  /** Several counts at once (a request's windows): one Redis round trip for all of them. */
  hitMany(requests: readonly HitRequest[]): Promise<Hit[]>;
  /** The same count answered at once, for counters kept in this process (memory); absent with Redis. */
  readonly hitNow: ((key: string, limit: number, windowSeconds: number) => Hit) | undefined;
  /** True for the first call per key per window, on every instance together: for deduplicated events. */
  once(key: string, windowSeconds: number): Promise<boolean>;
  /** `ok`, or `degraded` when Redis is configured but not answering (limits then hold per instance). */
  ping(timeoutMs?: number): Promise<"ok" | "degraded">;
  /** The Redis connection, when there is one: pub/sub and one-time tickets build on it. */
  readonly redis: Redis | undefined;
  close(): Promise<void>;
};

export type CountersOptions = {
  clock: Clock;
  redisUrl?: string | undefined;
  /** Namespace for every key, so tests and several deployments can share one Redis. */
  prefix?: string;
  onError?: (error: Error) => void;
};

/** Distinct keys one window holds in memory before new ones share an overflow count. */
const MAX_MEMORY_KEYS = 500_000;

/** Creates the counters named by the options: Redis when a URL is given, memory otherwise. */
export function createCounters(options: CountersOptions): Counters {
  const prefix = options.prefix ?? "bw";
  const redis = options.redisUrl
    ? new (redisClass())(options.redisUrl, {
        // Fail fast instead of queueing: a request must not wait for Redis to come back.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 500,
        retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
        // A request's minute and hour counts are asked for together: one round trip, not two.
        enableAutoPipelining: true,
      })
    : undefined;
  redis?.defineCommand("bulwarkHit", { lua: HIT_SCRIPT });
  // One report per 10 s: a Redis outage must not flood the log.
  redis?.on("error", oncePer(10_000, options.onError));

  const windowOf = (windowSeconds: number) => {
    const nowMs = options.clock.now();
    const index = Math.floor(nowMs / 1000 / windowSeconds);
    const resetSeconds = Math.max(1, Math.ceil(((index + 1) * windowSeconds * 1000 - nowMs) / 1000));
    return { index, resetSeconds };
  };

  // Without Redis, counts live in one map per window length, dropped whole when the window turns:
  // a few hundred nanoseconds a hit, where a limiter object per call cost microseconds.
  const windows = new Map<number, { index: number; counts: Map<string, number> }>();
  const hitMemory = (key: string, limit: number, windowSeconds: number): Hit => {
    const { index, resetSeconds } = windowOf(windowSeconds);
    let bucket = windows.get(windowSeconds);
    if (!bucket || bucket.index !== index) {
      bucket = { index, counts: new Map() };
      windows.set(windowSeconds, bucket);
    }
    let id = `${limit}:${key}`;
    // A flood from countless addresses must not grow memory without bound: past the cap, new
    // clients share one count, which fails closed for them rather than open for everyone.
    if (bucket.counts.size >= MAX_MEMORY_KEYS && !bucket.counts.has(id)) id = `${limit}:overflow`;
    const count = (bucket.counts.get(id) ?? 0) + 1;
    bucket.counts.set(id, count);
    return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetSeconds };
  };

  // Keys over their limit in the current window are refused here without asking Redis again,
  // so a flood costs Redis nothing once it is refused.
  const blocked = new Map<string, number>();
  const hitRedis = async (client: Redis, requests: readonly HitRequest[]): Promise<Hit[]> => {
    const windows = requests.map((r) => windowOf(r.windowSeconds));
    const keys = requests.map((r, i) => `${prefix}:rl:${r.limit}/${r.windowSeconds}:${windows[i]!.index}:${r.key}`);
    const nowMs = options.clock.now();
    if (keys.every((key) => (blocked.get(key) ?? 0) > nowMs)) {
      return requests.map((r, i) => ({
        allowed: false,
        limit: r.limit,
        remaining: 0,
        resetSeconds: windows[i]!.resetSeconds,
      }));
    }
    // One script for all of a request's windows: one round trip, atomic per key. Keys carry the
    // window number, so their TTL only has to outlive the window.
    const counts = await (client as unknown as HitCommand).bulwarkHit(
      keys.length,
      ...keys,
      ...requests.map((r) => r.windowSeconds + 1),
    );
    return requests.map((r, i) => {
      const count = Number(counts[i]);
      if (count > r.limit) {
        if (blocked.size >= MAX_MEMORY_KEYS) blocked.clear();
        blocked.set(keys[i]!, nowMs + windows[i]!.resetSeconds * 1000);
      }
      return {
        allowed: count <= r.limit,
        limit: r.limit,
        remaining: Math.max(0, r.limit - count),
        resetSeconds: windows[i]!.resetSeconds,
      };
    });
  };
  const local = (requests: readonly HitRequest[]) => requests.map((r) => hitMemory(r.key, r.limit, r.windowSeconds));
  const hitMany = async (requests: readonly HitRequest[]): Promise<Hit[]> => {
    // Redis away: the same limits hold per instance (the insurance), and /ready says "degraded".
    if (!redis || redis.status !== "ready") return local(requests);
    try {
      return await hitRedis(redis, requests);
    } catch {
      return local(requests);
    }
  };
  const hit = async (key: string, limit: number, windowSeconds: number): Promise<Hit> =>
    (await hitMany([{ key, limit, windowSeconds }]))[0]!;

  return {
    kind: redis ? "redis" : "memory",
    redis,
    hit,
    hitMany,
    hitNow: redis ? undefined : hitMemory,
    async once(key, windowSeconds) {
      return (await hit(`once:${key}`, 1, windowSeconds)).allowed;
    },
    async ping(timeoutMs = 1_000) {
      if (!redis) return "ok";
      if (redis.status !== "ready") return "degraded";
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("redis ping timed out")), timeoutMs);
        });
        await Promise.race([redis.ping(), timeout]);
        return "ok";
      } catch {
        return "degraded";
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      if (redis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}
