// A read-through cache of rows by id that every instance keeps consistent: a change on any
// instance drops the id everywhere (over pub/sub, waiting for its own echo), and a load that
// started before an invalidation never caches what it read. Users and API keys use it.
import type { Clock } from "../core/clock.js";
import { broadcast } from "./pubsub.js";
import type { PubSub } from "./pubsub.js";

export type SharedCache<T> = {
  /** The row if it is cached and fresh, without a promise (the hot path); undefined otherwise. */
  peek(id: string): T | undefined;
  /** The row, from memory when cached and fresh; loaded (and cached) otherwise. */
  get(id: string): Promise<T | undefined>;
  /** Drops ids here and on every instance; resolves once every instance has heard (a second at most). */
  invalidate(...ids: string[]): Promise<void>;
  /** Drops ids here only (a change this instance learned of by itself, e.g. a periodic reload). */
  drop(ids: readonly string[]): void;
  /** Starts listening to other instances. */
  start(): Promise<void>;
};

/** Builds a cache over `load`; `ttlMs` bounds how stale an entry may be if a message is lost. */
export function createSharedCache<T>(options: {
  pubsub: PubSub;
  channel: string;
  clock: Clock;
  load: (id: string) => Promise<T | undefined>;
  ttlMs?: number;
  max?: number;
  /**
   * Remember ids that were not found for this long (none when unset), at most `max` of them: a
   * flood of the same unknown id then costs one look-up per period, not one per request. An
   * invalidation of the id (its creation, on any instance) forgets the miss.
   */
  missTtlMs?: number;
  /** Called with the ids dropped by a change on any instance (this one included), after they are dropped. */
  onDrop?: (ids: readonly string[]) => void;
  onError?: (error: Error) => void;
}): SharedCache<T> {
  const { clock, load } = options;
  const ttl = options.ttlMs ?? Number.POSITIVE_INFINITY;
  const max = options.max ?? 50_000;
  const entries = new Map<string, { value: T; at: number }>();
  const missTtl = options.missTtlMs ?? 0;
  const misses = new Map<string, number>();
  // Bumped by every invalidation: a load that started before one must not cache what it read.
  let epoch = 0;
  const drop = (ids: readonly string[]) => {
    epoch++;
    for (const id of ids) {
      entries.delete(id);
      misses.delete(id);
    }
    options.onDrop?.(ids);
  };
  const channel = broadcast(options.pubsub, options.channel, drop, options.onError);
  const peek = (id: string) => {
    const hit = entries.get(id);
    return hit && clock.now() - hit.at < ttl ? hit.value : undefined;
  };
  return {
    peek,
    async get(id) {
      const hit = peek(id);
      if (hit !== undefined) return hit;
      const missedAt = misses.get(id);
      if (missedAt !== undefined) {
        if (clock.now() - missedAt < missTtl) return undefined;
        misses.delete(id);
      }
      const started = epoch;
      const value = await load(id);
      if (value === undefined) {
        entries.delete(id);
        if (missTtl > 0 && started === epoch) {
          // Oldest first out: the map keeps insertion order.
          if (misses.size >= max) misses.delete(misses.keys().next().value as string);
          misses.set(id, clock.now());
        }
      } else if (started === epoch) {
        if (entries.size >= max) entries.delete(entries.keys().next().value as string);
        entries.set(id, { value, at: clock.now() });
      }
      return value;
    },
    invalidate: (...ids) => channel.announce(ids),
    drop,
    start: () => {
      // Invalidations sent while our subscription was down were missed: forget everything cached.
      options.pubsub.onResubscribed(() => {
        epoch++;
        entries.clear();
        misses.clear();
      });
      return channel.subscribe();
    },
  };
}
