// Attack: BOOTSTRAP_ADMIN_EMAIL left in the environment after the first admin exists; whoever later registers (or takes over) that address confirms it and becomes an admin.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { bearer, login, register } from "../../../test/identity.js";
import { startSmtp, tokenIn } from "../../../test/mail.js";

type App = { app: import("fastify").FastifyInstance };
const verify = (t: App, token: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: "POST", url: "/api/auth/email/verify", payload: { token }, headers });
const me = async (t: App, access: string) =>
  (await t.app.inject({ url: "/api/users/me", headers: bearer(access) })).json().user;

test("BOOTSTRAP_ADMIN_EMAIL makes the first admin under the in-session rule, and grants nothing once an admin exists", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url, BOOTSTRAP_ADMIN_EMAIL: "First@Example.com" } });
  try {
    const first = await register(t.app, { email: "first@example.com", verified: false });
    const access = (await login(t.app, first)).json().access_token as string;
    await t.app.bulwark.mailer.idle();
    const mail = smtp.to("first@example.com", "confirm your email")[0]!;
    assert.ok(mail.body.includes(first.username), "the mail names the account that would become admin");
    // The plain link (no session) proves the address and grants nothing.
    assert.equal((await verify(t, tokenIn(mail))).statusCode, 204);
    assert.equal((await me(t, access)).role, "user");
    // The owner confirms again inside the account's own session: the first admin.
    assert.equal(
      (await t.app.inject({ method: "POST", url: "/api/auth/email/verify/request", headers: bearer(access) }))
        .statusCode,
      202,
    );
    await t.app.bulwark.mailer.idle();
    const again = smtp.to("first@example.com", "confirm your email")[1]!;
    assert.equal((await verify(t, tokenIn(again), bearer(access))).statusCode, 204);
    assert.equal((await me(t, access)).role, "admin");

    // Later the address moves to another account (the first admin changed theirs; someone registers it).
    const changed = await t.app.inject({
      method: "PATCH",
      url: "/api/users/me",
      headers: bearer(access),
      payload: { email: "ops@example.com", current_password: first.password },
    });
    assert.ok(changed.statusCode < 300, `email change: ${changed.statusCode} ${changed.body}`);
    const late = await register(t.app, { email: "first@example.com", verified: false });
    const lateAccess = (await login(t.app, late)).json().access_token as string;
    await t.app.bulwark.mailer.idle();
    const lateMail = smtp.to("first@example.com", "confirm your email").at(-1)!;
    assert.ok(!/administrator rights/.test(lateMail.body), "no admin promise once an admin exists");
    assert.equal((await verify(t, tokenIn(lateMail), bearer(lateAccess))).statusCode, 204);
    assert.equal((await me(t, lateAccess)).role, "user", "an admin exists: the bootstrap address grants nothing");
    assert.equal((await t.app.inject({ url: "/api/admin/users", headers: bearer(lateAccess) })).statusCode, 403);
  } finally {
    await t.close();
    await smtp.close();
  }
});
