// Password reset by mail over a real SMTP server (in-process): no account enumeration, single-use
// expiring tokens, every session ended, two-factor kept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { startApp } from "../../../test/harness.js";
import { bearer, goodPassword, login, register, signedIn } from "../../../test/identity.js";
import { startSmtp, tokenIn } from "../../../test/mail.js";
import { enableTotp } from "../../../test/mfa.js";

const forgot = (t: { app: import("fastify").FastifyInstance }, email: string, remoteAddress = "127.0.0.1") =>
  t.app.inject({ method: "POST", url: "/api/auth/password/forgot", payload: { email }, remoteAddress });
const reset = (t: { app: import("fastify").FastifyInstance }, token: string, password: string) =>
  t.app.inject({ method: "POST", url: "/api/auth/password/reset", payload: { token, new_password: password } });

test("forgot answers 202 with the same body for known and unknown addresses; only the known one gets a mail", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url } });
  try {
    const user = await register(t.app);
    const known = await forgot(t, user.email.toUpperCase());
    const unknown = await forgot(t, "nobody-here@example.com");
    assert.equal(known.statusCode, 202);
    assert.equal(unknown.statusCode, 202);
    assert.equal(known.body, unknown.body);
    assert.deepEqual(known.json(), { status: "accepted" });
    assert.equal(known.headers["content-type"], unknown.headers["content-type"]);
    await t.app.bulwark.mailer.idle();
    const mails = smtp.to(user.email, "reset your password");
    assert.equal(mails.length, 1);
    assert.equal(smtp.to("nobody-here@example.com").length, 0);
    const token = tokenIn(mails[0]);
    assert.ok(mails[0]!.body.includes(`${t.config.publicUrl}/reset-password?token=${token}`));
    // The token is stored only as a hash, and never audited.
    assert.equal(JSON.stringify(await t.store.db.execute(sql`select * from account_tokens`)).includes(token), false);
    const audit = JSON.stringify((await t.app.bulwark.audit.query({ limit: 100 })).events);
    assert.equal(audit.includes(token), false);
    const requests = (await t.app.bulwark.audit.query({ eventType: "password.reset_request" })).events;
    assert.deepEqual(requests.map((e) => e.result).sort(), ["failure", "success"]);
    const sent = (await t.app.bulwark.audit.query({ eventType: "mail.sent" })).events.map((e) => e.metadata.template);
    assert.ok(sent.includes("password_reset"));
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("a reset token works once, applies the password policy, and expires after 30 minutes", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url } });
  try {
    const user = await register(t.app);
    await forgot(t, user.email);
    await t.app.bulwark.mailer.idle();
    const token = tokenIn(smtp.to(user.email, "reset your password")[0]);
    const weak = await reset(t, token, "password");
    assert.equal(weak.statusCode, 400, "the policy applies");
    assert.equal(weak.json().error.details[0].path, "new_password");
    const fresh = goodPassword();
    assert.equal((await reset(t, token, fresh)).statusCode, 204, "a refused password does not use the token up");
    assert.equal((await reset(t, token, goodPassword())).statusCode, 400, "single use");
    assert.equal((await login(t.app, { username: user.username, password: fresh })).statusCode, 200);
    assert.equal((await login(t.app, user)).statusCode, 401, "the old password is dead");
    assert.equal(
      (await t.app.bulwark.audit.query({ eventType: "password.reset", result: "success" })).events.length,
      1,
    );

    await forgot(t, user.email);
    await t.app.bulwark.mailer.idle();
    const late = tokenIn(smtp.to(user.email, "reset your password")[1]);
    t.clock.advance(30 * 60_000 + 1_000);
    const expired = await reset(t, late, goodPassword());
    assert.equal(expired.statusCode, 400);
    assert.equal(expired.json().error.code, "invalid_request");
    assert.equal((await reset(t, "A".repeat(43), goodPassword())).statusCode, 400, "an unknown token");
    await t.app.bulwark.mailer.idle();
    assert.equal(smtp.to(user.email, "your password was changed").length, 1, "the owner is told");
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("a reset ends every session and refresh token of the user", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url } });
  try {
    const user = await signedIn(t.app);
    const second = (await login(t.app, user)).json();
    await forgot(t, user.email);
    await t.app.bulwark.mailer.idle();
    assert.equal(
      (await reset(t, tokenIn(smtp.to(user.email, "reset your password")[0]), goodPassword())).statusCode,
      204,
    );
    for (const access of [user.access, second.access_token]) {
      assert.equal((await t.app.inject({ url: "/api/users/me", headers: bearer(access) })).statusCode, 401);
    }
    for (const refresh of [user.refresh, second.refresh_token]) {
      assert.equal(
        (await t.app.inject({ method: "POST", url: "/api/auth/refresh", payload: { refresh_token: refresh } }))
          .statusCode,
        401,
      );
    }
    const event = (await t.app.bulwark.audit.query({ eventType: "password.reset" })).events[0]!;
    assert.equal(event.metadata.sessions_revoked, 2);
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("a reset leaves two-factor on: the next login still needs a code", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url } });
  try {
    const user = await signedIn(t.app);
    await enableTotp(t, user);
    await forgot(t, user.email);
    await t.app.bulwark.mailer.idle();
    const password = goodPassword();
    assert.equal((await reset(t, tokenIn(smtp.to(user.email, "reset your password")[0]), password)).statusCode, 204);
    const res = await login(t.app, { username: user.username, password });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().mfa_required, true);
    assert.equal(res.json().access_token, undefined);
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("forgot is limited per address (silently, still 202) and per IP (429)", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url } });
  try {
    const user = await register(t.app);
    for (let i = 0; i < 5; i++) {
      const res = await forgot(t, user.email, `10.0.0.${i + 1}`);
      assert.equal(res.statusCode, 202);
      assert.deepEqual(res.json(), { status: "accepted" });
    }
    await t.app.bulwark.mailer.idle();
    assert.equal(smtp.to(user.email, "reset your password").length, 3, "three mails an hour per address");
    let last = 0;
    for (let i = 0; i < 11; i++) last = (await forgot(t, `someone${i}@example.com`, "10.9.9.9")).statusCode;
    assert.equal(last, 429);
  } finally {
    await t.close();
    await smtp.close();
  }
});
