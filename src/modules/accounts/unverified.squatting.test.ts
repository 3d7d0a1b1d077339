// Attack: registering someone else's address and, before its owner notices, minting API keys, enrolling two-factor and adding webhook endpoints, so that access survives the owner's password reset.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../store/db.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, goodPassword, login, register, stepUp } from "../../../test/identity.js";
import { startSmtp, tokenIn } from "../../../test/mail.js";
import { codeAt } from "../../../test/mfa.js";

const HOUR = 3_600_000;
const forgot = (t: TestApp, email: string) =>
  t.app.inject({ method: "POST", url: "/api/auth/password/forgot", payload: { email } });
const reset = (t: TestApp, token: string, password: string) =>
  t.app.inject({ method: "POST", url: "/api/auth/password/reset", payload: { token, new_password: password } });
const signIn = async (t: TestApp, user: { username: string; password: string }) => {
  const res = await login(t.app, user);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { access_token: string; refresh_token: string };
};

test("an account whose address nobody proved cannot create API keys, enrol two-factor or add webhook endpoints", async () => {
  const t = await startApp();
  try {
    const squatter = await register(t.app, { email: "victim@example.com", verified: false });
    const { access_token: access } = await signIn(t, squatter);
    await stepUp(t.app, { access, password: squatter.password });
    const key = await t.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: bearer(access),
      payload: { name: "mine", scopes: ["read"] },
    });
    assert.equal(key.statusCode, 403, key.body);
    assert.equal(key.json().error.code, "email_unverified");
    const totp = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/setup",
      headers: bearer(access),
      payload: { password: squatter.password },
    });
    assert.equal(totp.statusCode, 403, totp.body);
    assert.equal(totp.json().error.code, "email_unverified");
    // An admin made by an operator still needs a proven address to add an endpoint (which receives user events).
    await t.app.bulwark.accounts.promote(squatter.username, { userId: null });
    const admin = (await signIn(t, squatter)).access_token;
    const hook = await t.app.inject({
      method: "POST",
      url: "/api/admin/webhook-endpoints",
      headers: bearer(admin),
      payload: { url: "https://hooks.example.com/in", events: ["user.created"] },
    });
    assert.equal(hook.statusCode, 403, hook.body);
    assert.equal(hook.json().error.code, "email_unverified");
    assert.equal(rowsOf(await t.store.db.execute(sql`select 1 from api_keys`)).length, 0, "nothing was made");
  } finally {
    await t.close();
  }
});

test("a password reset proves the address and ends every session, every API key and two-factor enrolled before the proof", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url } });
  try {
    const squatter = await register(t.app, { email: "victim@example.com", verified: false });
    // What the code before this rule allowed: the squatter's key and TOTP, made while the address was unproven.
    await t.store.db.execute(sql`update users set email_verified = true where id = ${squatter.userId}`);
    await t.app.bulwark.accounts.forget(squatter.userId);
    const { access_token: access, refresh_token: refresh } = await signIn(t, squatter);
    await stepUp(t.app, { access, password: squatter.password });
    const key = await t.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: bearer(access),
      payload: { name: "mine", scopes: ["read"] },
    });
    assert.equal(key.statusCode, 201, key.body);
    const setup = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/setup",
      headers: bearer(access),
      payload: { password: squatter.password },
    });
    const secret = setup.json().secret as string;
    assert.equal(
      (
        await t.app.inject({
          method: "POST",
          url: "/api/auth/mfa/totp/enable",
          headers: bearer(access),
          payload: { code: codeAt(secret, t.clock.now()) },
        })
      ).statusCode,
      200,
    );
    await t.store.db.execute(
      sql`update users set email_verified = false, first_verified_at = null where id = ${squatter.userId}`,
    );
    await t.app.bulwark.accounts.forget(squatter.userId);
    t.clock.advance(60_000);

    // The owner recovers the account by the mail only they receive.
    assert.equal((await forgot(t, "victim@example.com")).statusCode, 202);
    await t.app.bulwark.mailer.idle();
    const password = goodPassword();
    assert.equal(
      (await reset(t, tokenIn(smtp.to("victim@example.com", "reset your password")[0]), password)).statusCode,
      204,
    );

    // The squatter's session, refresh token and key are dead; the owner is not asked for the squatter's code.
    assert.equal((await t.app.inject({ url: "/api/users/me", headers: bearer(access) })).statusCode, 401);
    assert.equal(
      (await t.app.inject({ method: "POST", url: "/api/auth/refresh", payload: { refresh_token: refresh } }))
        .statusCode,
      401,
    );
    assert.equal(
      (await t.app.inject({ url: "/api/whoami", headers: bearer(key.json().key) })).statusCode,
      401,
      "the key is revoked",
    );
    const owner = await login(t.app, { username: squatter.username, password });
    assert.equal(owner.statusCode, 200, owner.body);
    assert.equal(owner.json().mfa_required, undefined, "two-factor enrolled before the proof is gone");
    const me = (await t.app.inject({ url: "/api/users/me", headers: bearer(owner.json().access_token) })).json().user;
    assert.equal(me.email_verified, true, "the reset proved the address");
    assert.equal(me.mfa_enabled, false);
    const event = (await t.app.bulwark.audit.query({ eventType: "password.reset" })).events[0]!;
    assert.equal(event.metadata.sessions_revoked, 1);
    assert.equal(event.metadata.api_keys_revoked, 1);
    assert.equal(event.metadata.mfa_revoked, 1);
    // The mail says what was ended.
    await t.app.bulwark.mailer.idle();
    const notice = smtp.to("victim@example.com", "password was changed")[0]!;
    assert.match(notice.body, /1 session/);
    assert.match(notice.body, /1 API key/);
    assert.match(notice.body, /two-factor/i);
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("an unverified registration expires after UNVERIFIED_ACCOUNT_TTL and stops holding its address", async () => {
  const t = await startApp({ env: { UNVERIFIED_ACCOUNT_TTL: String(24 * 3600) } });
  try {
    const squatter = await register(t.app, { email: "victim@example.com", verified: false });
    const proven = await register(t.app);
    const early = await t.app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { username: "the_owner", email: "victim@example.com", password: goodPassword() },
    });
    assert.equal(early.statusCode, 409, "held while it may still be confirmed");
    t.clock.advance(24 * HOUR + 1_000);
    // Registering the address after expiry works, before any pruning ran.
    const owner = await register(t.app, { username: "the_owner", email: "victim@example.com", verified: false });
    assert.notEqual(owner.userId, squatter.userId);
    assert.equal((await login(t.app, squatter)).statusCode, 401, "the expired account is gone");
    // Pruning removes the others; an account with a proven address stays however old.
    const stale = await register(t.app, { verified: false });
    t.clock.advance(24 * HOUR + 1_000);
    const report = await t.app.bulwark.prune();
    assert.equal(report.unverified_accounts, 2);
    const left = rowsOf<{ id: string }>(await t.store.db.execute(sql`select id from users`)).map((r) => r.id);
    assert.ok(left.includes(proven.userId));
    assert.ok(!left.includes(stale.userId));
    assert.ok(!left.includes(owner.userId));
  } finally {
    await t.close();
  }
});
