// Helpers for the tests of the first admin's setup link.
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { rowsOf } from "../src/store/db.js";
import type { TestApp } from "./harness.js";
import { goodPassword } from "./identity.js";

/** The body of the setup form for a fresh account. */
export function setupBody(token: string, name = `admin_${Math.random().toString(36).slice(2, 8)}`) {
  return { token, username: name, email: `${name}@example.com`, password: goodPassword() };
}

/** Opens the setup link and returns its token (the part after `#token=`). */
export async function openSetup(t: TestApp): Promise<string> {
  const opened = await t.app.bulwark.accounts.openSetup();
  assert.ok(opened, "no admin yet: a link is made");
  assert.match(opened.link, new RegExp(`^${t.config.publicUrl}/setup#token=[A-Za-z0-9_-]{43}$`));
  return opened.link.split("#token=")[1]!;
}

/** The setup audit rows in chain order. */
export const setupEvents = async (t: TestApp) =>
  rowsOf<{ event_type: string; result: string; metadata: { reason?: string } | null }>(
    await t.store.db.execute(
      sql`select event_type, result, metadata from audit_logs where event_type like 'admin.setup%' order by seq`,
    ),
  );

/** The usernames of every admin. */
export const admins = async (t: TestApp) =>
  rowsOf<{ username: string }>(await t.store.db.execute(sql`select username from users where role = 'admin'`)).map(
    (r) => r.username,
  );
