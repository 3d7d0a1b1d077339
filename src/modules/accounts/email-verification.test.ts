// Email verification over a real SMTP server: single-use, expiring tokens bound to the address they
// were sent to; a changed address is unverified again; ADMIN_EMAILS grants admin only once verified
// inside the account's own session.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { startApp } from "../../../test/harness.js";
import { bearer, login, register, signedIn } from "../../../test/identity.js";
import { startSmtp, tokenIn } from "../../../test/mail.js";

type App = { app: import("fastify").FastifyInstance };
const verify = (t: App, token: string) =>
  t.app.inject({ method: "POST", url: "/api/auth/email/verify", payload: { token } });
const me = async (t: App, access: string) =>
  (await t.app.inject({ url: "/api/users/me", headers: bearer(access) })).json().user;

test("registration mails a verification link; the token verifies once", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url } });
  try {
    const user = await signedIn(t.app, { verified: false });
    await t.app.bulwark.mailer.idle();
    const mail = smtp.to(`${user.username.toLowerCase()}@example.com`, "confirm your email")[0];
    const token = tokenIn(mail);
    assert.ok(mail!.body.includes(`${t.config.publicUrl}/verify-email?token=${token}`));
    assert.equal((await me(t, user.access)).email_verified, false);
    assert.equal((await verify(t, token)).statusCode, 204);
    assert.equal((await me(t, user.access)).email_verified, true);
    const again = await verify(t, token);
    assert.equal(again.statusCode, 400, "single use");
    assert.equal(again.json().error.code, "invalid_request");
    assert.equal(
      JSON.stringify(await t.store.db.execute(sql`select * from account_tokens`)).includes(token),
      false,
      "stored hashed",
    );
    const events = (await t.app.bulwark.audit.query({ eventType: "email.verified", result: "success" })).events;
    assert.equal(events.length, 1);
    assert.equal(events[0]!.target, user.userId);
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("a verification token expires after 24 hours; a new request mails a new link and kills the old", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url } });
  try {
    const user = await signedIn(t.app, { verified: false });
    const email = `${user.username.toLowerCase()}@example.com`;
    await t.app.bulwark.mailer.idle();
    const first = tokenIn(smtp.to(email, "confirm your email")[0]);
    t.clock.advance(24 * 3_600_000 + 1_000);
    assert.equal((await verify(t, first)).statusCode, 400, "expired");
    user.access = (await login(t.app, user, { device_token: user.deviceToken })).json().access_token;
    const request = await t.app.inject({
      method: "POST",
      url: "/api/auth/email/verify/request",
      headers: bearer(user.access),
    });
    assert.equal(request.statusCode, 202);
    await t.app.bulwark.mailer.idle();
    const second = tokenIn(smtp.to(email, "confirm your email")[1]);
    assert.notEqual(second, first);
    const third = await t.app.inject({
      method: "POST",
      url: "/api/auth/email/verify/request",
      headers: bearer(user.access),
    });
    assert.equal(third.statusCode, 202);
    await t.app.bulwark.mailer.idle();
    assert.equal((await verify(t, second)).statusCode, 400, "superseded by the newer link");
    assert.equal((await verify(t, tokenIn(smtp.to(email, "confirm your email")[2]))).statusCode, 204);
    assert.equal(
      (await t.app.bulwark.audit.query({ eventType: "email.verify_request", result: "success" })).events.length,
      2,
    );
    assert.equal(
      (await t.app.inject({ method: "POST", url: "/api/auth/email/verify/request" })).statusCode,
      401,
      "signed-in only",
    );
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("changing the email resets verification, mails the new address, and the old address's link dies", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url } });
  try {
    const user = await signedIn(t.app, { verified: false });
    const oldEmail = `${user.username.toLowerCase()}@example.com`;
    await t.app.bulwark.mailer.idle();
    const oldToken = tokenIn(smtp.to(oldEmail, "confirm your email")[0]);
    const patch = await t.app.inject({
      method: "PATCH",
      url: "/api/users/me",
      headers: bearer(user.access),
      payload: { email: "new-home@example.com", current_password: user.password },
    });
    assert.equal(patch.statusCode, 200, patch.body);
    assert.equal(patch.json().user.email_verified, false);
    assert.equal((await verify(t, oldToken)).statusCode, 400, "a link to the old address does not verify the new one");
    await t.app.bulwark.mailer.idle();
    const newToken = tokenIn(smtp.to("new-home@example.com", "confirm your email")[0]);
    assert.equal((await verify(t, newToken)).statusCode, 204);
    assert.equal((await me(t, user.access)).email_verified, true);
    // Verified, then changed again: unverified again.
    await t.app.inject({
      method: "PATCH",
      url: "/api/users/me",
      headers: bearer(user.access),
      payload: { email: "third@example.com", current_password: user.password },
    });
    assert.equal((await me(t, user.access)).email_verified, false);
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("an ADMIN_EMAILS address becomes admin on verification, not at registration", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url, ADMIN_EMAILS: "boss@example.com" } });
  try {
    const boss = await register(t.app, { email: "Boss@Example.com", verified: false });
    const res = await login(t.app, boss);
    const access = res.json().access_token as string;
    assert.equal((await me(t, access)).role, "user", "not before verification");
    assert.equal((await t.app.inject({ url: "/api/admin/users", headers: bearer(access) })).statusCode, 403);
    await t.app.bulwark.mailer.idle();
    // Confirmed inside the account's own session (see admin-email.squatting.test.ts for the plain link).
    const confirm = await t.app.inject({
      method: "POST",
      url: "/api/auth/email/verify",
      payload: { token: tokenIn(smtp.to("boss@example.com", "confirm your email")[0]) },
      headers: bearer(access),
    });
    assert.equal(confirm.statusCode, 204);
    assert.equal((await me(t, access)).role, "admin");
    assert.equal((await t.app.inject({ url: "/api/admin/users", headers: bearer(access) })).statusCode, 200);
    const event = (await t.app.bulwark.audit.query({ eventType: "email.verified" })).events[0]!;
    assert.equal(event.metadata.role_granted, "admin");
    // Anyone else verifying stays a user.
    const other = await signedIn(t.app, { verified: false });
    await t.app.bulwark.mailer.idle();
    await verify(t, tokenIn(smtp.to(`${other.username.toLowerCase()}@example.com`, "confirm your email")[0]));
    assert.equal((await me(t, other.access)).role, "user");
  } finally {
    await t.close();
    await smtp.close();
  }
});
