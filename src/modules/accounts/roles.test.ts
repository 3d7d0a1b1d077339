// Threats on the admin role over the API: a non-admin promotes themself; a demoted admin keeps
// admin powers on a token issued before; the last admin demotes themself (or is demoted) and
// leaves the deployment without anyone able to administer it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { startApp } from "../../../test/harness.js";
import { bearer, login, signedIn } from "../../../test/identity.js";
import { rowsOf } from "../../store/db.js";

test("admins promote and demote over the API, audited; the last admin cannot be demoted", async () => {
  const t = await startApp({
    env: { SENSITIVE_PER_MINUTE: "100", AUTH_LOGIN_PER_MINUTE: "100", AUTH_REGISTER_PER_MINUTE: "100" },
  });
  try {
    const first = await signedIn(t.app);
    const other = await signedIn(t.app);
    const call = (token: string, action: string, id: string) =>
      t.app.inject({ method: "POST", url: `/api/admin/users/${id}/${action}`, headers: bearer(token) });
    assert.equal((await call(other.access, "promote", other.userId)).statusCode, 403, "a user cannot promote themself");

    await t.app.bulwark.accounts.promote(first.username, { userId: null });
    const admin = (await login(t.app, first)).json().access_token as string;
    const lastSelf = await call(admin, "demote", first.userId);
    assert.equal(lastSelf.statusCode, 409, "the last admin cannot demote themself");

    const promoted = await call(admin, "promote", other.userId);
    assert.equal(promoted.statusCode, 200, promoted.body);
    assert.equal(promoted.json().user.role, "admin");
    const otherAdmin = (await login(t.app, other)).json().access_token as string;
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/admin/users", headers: bearer(otherAdmin) })).statusCode,
      200,
    );

    assert.equal((await call(admin, "demote", other.userId)).statusCode, 200);
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/admin/users", headers: bearer(otherAdmin) })).statusCode,
      403,
      "the old token has no admin power left",
    );
    assert.equal((await call(admin, "demote", first.userId)).statusCode, 409, "still the last admin");
    assert.equal((await call(admin, "promote", "0".repeat(32))).statusCode, 404);

    const events = rowsOf<{ event_type: string; result: string; target: string }>(
      await t.store.db.execute(
        sql`select event_type, result, target from audit_logs where event_type in ('user.promote', 'user.demote')`,
      ),
    );
    assert.ok(
      events.some((e) => e.event_type === "user.demote" && e.result === "success" && e.target === other.userId),
    );
    assert.ok(events.some((e) => e.event_type === "user.demote" && e.result === "failure"));
  } finally {
    await t.close();
  }
});
