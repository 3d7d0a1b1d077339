// SQL of the sign-in module: the failed-login counters and the device-token resets, and nothing else.
import { eq, lt } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import { deviceTokenResets, loginFailures } from "./tables.js";

export type LoginFailureRow = typeof loginFailures.$inferSelect;

/** The failure record of a login name, locked for update so concurrent failures count once each. */
export async function lockFailures(db: Executor, loginKey: string): Promise<LoginFailureRow | undefined> {
  const [row] = await db.select().from(loginFailures).where(eq(loginFailures.loginKey, loginKey)).for("update");
  return row;
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
