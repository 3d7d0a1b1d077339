// Time as a dependency, so expiry, lockout and rate-limit windows are tested without sleeping.

export type Clock = { now(): number };

/** The wall clock, in milliseconds since the epoch. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to: for tests. */
export function createFakeClock(
  start = Date.UTC(2026, 0, 1),
): Clock & { advance(ms: number): void; set(ms: number): void } {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
    set: (ms) => {
      current = ms;
    },
  };
}
