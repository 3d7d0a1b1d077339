// Threats on sign-up modes and invitations: with REGISTRATION=invite or closed, a stranger signs up
// anyway; an invitation link works twice, after its expiry, or after it was revoked; a database
// leak yields usable invitation links (only an HMAC is stored); a non-admin invites.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { startApp, testSecrets } from "../../../test/harness.js";
import { bearer, goodPassword, login, signedIn } from "../../../test/identity.js";
import { startSmtp, tokenIn } from "../../../test/mail.js";
import { rowsOf } from "../../store/db.js";

const limits = { AUTH_REGISTER_PER_MINUTE: "100", AUTH_LOGIN_PER_MINUTE: "100", SENSITIVE_PER_MINUTE: "100" };

test("REGISTRATION=invite: open sign-up is refused; an admin's invitation makes a verified account, once", async () => {
  const smtp = await startSmtp();
  // Two instances of one deployment (same database and secrets): the first still open, to set the scene.
  const secrets = testSecrets();
  const t = await startApp({ env: { ...limits, ...secrets, SMTP_URL: smtp.url, REGISTRATION: "open" } });
  const invite = await startApp({
    store: t.store,
    clock: t.clock,
    env: { ...limits, ...secrets, SMTP_URL: smtp.url, REGISTRATION: "invite", APP_NAME: "Acme" },
  });
  try {
    const admin = await signedIn(t.app);
    await t.app.bulwark.accounts.promote(admin.username, { userId: null });
    const adminLogin = (await login(invite.app, admin)).json().access_token as string;

    const register = await invite.app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { username: "stranger", email: "stranger@example.com", password: goodPassword() },
    });
    assert.equal(register.statusCode, 403, register.body);
    assert.match(register.json().error.message, /invitation/);

    const member = await signedIn(t.app);
    const notAdmin = await invite.app.inject({
      method: "POST",
      url: "/api/admin/invitations",
      headers: bearer((await login(invite.app, member)).json().access_token),
      payload: { email: "x@example.com" },
    });
    assert.equal(notAdmin.statusCode, 403);

    const created = await invite.app.inject({
      method: "POST",
      url: "/api/admin/invitations",
      headers: bearer(adminLogin),
      payload: { email: "Invitee@Example.com", expires_in_days: 2 },
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(JSON.stringify(created.json()).includes("token"), false, "the link goes by mail only");
    await invite.app.bulwark.mailer.idle();
    const mail = smtp.to("invitee@example.com")[0]!;
    assert.equal(mail.subject, "Acme: you are invited");
    assert.match(mail.body, /\/accept-invite\?token=/);
    const token = tokenIn(mail);

    const stored = JSON.stringify(rowsOf(await t.store.db.execute(sql`select * from invitations`)));
    assert.equal(stored.includes(token), false, "only an HMAC of the token is stored");

    const accept = (username: string, password = goodPassword()) =>
      invite.app.inject({
        method: "POST",
        url: "/api/auth/invitations/accept",
        payload: { token, username, password },
      });
    const weak = await accept("invitee", "password1234");
    assert.equal(weak.statusCode, 400, "a refused password leaves the invitation usable");
    const ok = await accept("invitee");
    assert.equal(ok.statusCode, 201, ok.body);
    assert.equal(ok.json().user.email, "Invitee@Example.com");
    assert.equal(ok.json().user.email_verified, true);
    assert.equal(ok.json().user.role, "user");
    const twice = await accept("invitee2");
    assert.equal(twice.statusCode, 400, "single use");

    const events = rowsOf<{ event_type: string; result: string }>(
      await t.store.db.execute(
        sql`select event_type, result from audit_logs where event_type like 'invitation.%' order by id`,
      ),
    );
    assert.deepEqual(events.map((e) => `${e.event_type}:${e.result}`).sort(), [
      "invitation.accept:failure",
      "invitation.accept:failure",
      "invitation.accept:success",
      "invitation.create:failure",
      "invitation.create:success",
    ]);
  } finally {
    await invite.close();
    await t.close();
    await smtp.close();
  }
});

test("an invitation expires, can be revoked, and REGISTRATION=closed refuses both doors", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { ...limits, SMTP_URL: smtp.url } });
  try {
    const admin = await signedIn(t.app);
    await t.app.bulwark.accounts.promote(admin.username, { userId: null });
    const headers = bearer((await login(t.app, admin)).json().access_token);
    const invite = async (email: string) => {
      const res = await t.app.inject({
        method: "POST",
        url: "/api/admin/invitations",
        headers,
        payload: { email, expires_in_days: 1 },
      });
      assert.equal(res.statusCode, 201, `${res.body} ${JSON.stringify(headers)}`);
      await t.app.bulwark.mailer.idle();
      return { id: res.json().invitation.id as string, token: tokenIn(smtp.to(email)[0]) };
    };
    const accept = (token: string, username: string) =>
      t.app.inject({
        method: "POST",
        url: "/api/auth/invitations/accept",
        payload: { token, username, password: goodPassword() },
      });

    const late = await invite("late@example.com");
    const revoked = await invite("revoked@example.com");
    const list = await t.app.inject({ method: "GET", url: "/api/admin/invitations", headers });
    assert.deepEqual(
      list
        .json()
        .invitations.map((i: { email: string }) => i.email)
        .sort(),
      ["late@example.com", "revoked@example.com"],
    );
    assert.equal(
      (await t.app.inject({ method: "DELETE", url: `/api/admin/invitations/${revoked.id}`, headers })).statusCode,
      204,
    );
    assert.equal((await accept(revoked.token, "revoked")).statusCode, 400, "revoked");
    assert.equal(
      (await t.app.inject({ method: "POST", url: "/api/admin/invitations", headers, payload: { email: admin.email } }))
        .statusCode,
      409,
      "the address has an account",
    );

    t.clock.advance(86_400_000 + 1000);
    assert.equal((await accept(late.token, "late")).statusCode, 400, "expired");
    await t.app.bulwark.prune();
    assert.equal((await t.app.bulwark.prune()).invitations, 0, "prune is idempotent");
  } finally {
    await t.close();
  }
  const closed = await startApp({ env: { ...limits, SMTP_URL: smtp.url, REGISTRATION: "closed" } });
  try {
    const register = await closed.app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { username: "nobody", email: "nobody@example.com", password: goodPassword() },
    });
    assert.equal(register.statusCode, 403);
  } finally {
    await closed.close();
    await smtp.close();
  }
});

test("production refuses to start without an explicit REGISTRATION", async () => {
  const { loadConfig, ConfigError } = await import("../../config/load.js");
  const { productionEnv } = await import("../../../test/harness.js");
  const env = productionEnv();
  delete env.REGISTRATION;
  assert.throws(
    () => loadConfig(env),
    (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.setting === "REGISTRATION"),
  );
  assert.doesNotThrow(() => loadConfig({ ...env, REGISTRATION: "invite" }));
});
