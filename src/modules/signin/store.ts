// SQL of the sign-in module: the failed-login counters and the device-token resets, and nothing else.
import { eq, lt, sql } from "drizzle-orm";
import { rowsOf, type Executor } from "../../store/db.js";
import { deviceTokenResets, loginFailures } from "./tables.js";

export type LoginFailureRow = typeof loginFailures.$inferSelect;

/** How a failure moves a counter: the back-off after `threshold` failures and the hourly cap. */
export type FailurePolicy = { threshold: number; backoffBaseMs: number; maxBackoffMs: number; hourlyCap: number };

/**
 * Counts one failure against a counter in a single statement (one round trip, no transaction of its
 * own): the row is read `for update` so concurrent failures count once each, the new count, window
 * and lock are computed from it, and the upsert writes them. Failures more than an hour after the
 * previous one start over; the `hourlyCap`-th failure of a window locks until the window's end.
 * Returns the lock now in force (null when none) and the one in force before this failure.
 */
export async function countFailure(
  db: Executor,
  loginKey: string,
  now: Date,
  policy: FailurePolicy,
): Promise<{ lockedUntil: Date | null; previousLock: Date | null }> {
  const at = sql`${now.toISOString()}::timestamptz`;
  const hourAgo = sql`${now.toISOString()}::timestamptz - interval '1 hour'`;
  const result = await db.execute(sql`
    with prev as materialized (
      select * from ${loginFailures} where ${loginFailures.loginKey} = ${loginKey} for update
    ),
    counted as (
      select
        case when p.last_failure_at > ${hourAgo} then p.failures + 1 else 1 end as failures,
        case when p.window_start > ${hourAgo} then p.window_start else ${at} end as window_start,
        case when p.window_start > ${hourAgo} then p.window_failures + 1 else 1 end as window_failures,
        p.locked_until as previous_lock
      from (select 1) as one left join prev p on true
    ),
    next as (
      select c.*,
        case
          when c.window_failures >= ${policy.hourlyCap} then c.window_start + interval '1 hour'
          when c.failures >= ${policy.threshold} then ${at} + make_interval(secs => least(
            ${policy.backoffBaseMs / 1000}::float8 * power(2::float8, (c.failures - ${policy.threshold})::float8),
            ${policy.maxBackoffMs / 1000}::float8))
        end as locked_until
      from counted c
    )
    insert into ${loginFailures} as f (login_key, failures, last_failure_at, locked_until, window_start, window_failures)
    select ${loginKey}, n.failures, ${at}, n.locked_until, n.window_start, n.window_failures from next n
    on conflict (login_key) do update set
      failures = excluded.failures, last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until,
      window_start = excluded.window_start, window_failures = excluded.window_failures
    returning f.locked_until, (select previous_lock from next) as previous_lock`);
  const [row] = rowsOf<{ locked_until: Date | string | null; previous_lock: Date | string | null }>(result);
  const date = (value: Date | string | null | undefined) =>
    value === null || value === undefined ? null : new Date(value);
  return { lockedUntil: date(row?.locked_until), previousLock: date(row?.previous_lock) };
}

export async function readFailures(db: Executor, loginKey: string): Promise<LoginFailureRow | undefined> {
  const [row] = await db.select().from(loginFailures).where(eq(loginFailures.loginKey, loginKey));
  return row;
}

export async function saveFailures(db: Executor, row: LoginFailureRow): Promise<void> {
  await db.insert(loginFailures).values(row).onConflictDoUpdate({ target: loginFailures.loginKey, set: row });
}

/** After a success the back-off starts over; the hourly count stays, it caps failures not successes. */
export async function clearBackoff(db: Executor, loginKey: string): Promise<void> {
  await db.update(loginFailures).set({ failures: 0, lockedUntil: null }).where(eq(loginFailures.loginKey, loginKey));
}

/** Deletes failed-login counters whose last failure is older than `before`. */
export async function pruneLoginFailures(db: Executor, before: Date): Promise<number> {
  const rows = await db
    .delete(loginFailures)
    .where(lt(loginFailures.lastFailureAt, before))
    .returning({ key: loginFailures.loginKey });
  return rows.length;
}

/** Device tokens of the user issued before this time are void (undefined: none is). */
export async function devicesNotBefore(db: Executor, userId: string): Promise<Date | undefined> {
  const [row] = await db.select().from(deviceTokenResets).where(eq(deviceTokenResets.userId, userId));
  return row?.notBefore;
}

export async function setDevicesNotBefore(db: Executor, userId: string, notBefore: Date): Promise<void> {
  await db
    .insert(deviceTokenResets)
    .values({ userId, notBefore })
    .onConflictDoUpdate({ target: deviceTokenResets.userId, set: { notBefore } });
}
