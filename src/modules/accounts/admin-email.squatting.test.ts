// Attack: an anonymous user registers the boss's ADMIN_EMAILS address with a password of their own, and becomes admin the moment the boss clicks the ordinary "confirm your email" link.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { bearer, login, register, signedIn } from "../../../test/identity.js";
import { startSmtp, tokenIn } from "../../../test/mail.js";

type App = { app: import("fastify").FastifyInstance };
const verify = (t: App, token: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: "POST", url: "/api/auth/email/verify", payload: { token }, headers });
const me = async (t: App, access: string) =>
  (await t.app.inject({ url: "/api/users/me", headers: bearer(access) })).json().user;

test("an admin address registered by someone else gives them nothing when the owner clicks the mailed link", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url, ADMIN_EMAILS: "boss@example.com" } });
  try {
    const attacker = await register(t.app, { email: "boss@example.com", verified: false });
    const access = (await login(t.app, attacker)).json().access_token as string;
    await t.app.bulwark.mailer.idle();
    const mail = smtp.to("boss@example.com", "confirm your email")[0];
    // The owner is told, before clicking, what confirming inside that account would do.
    assert.match(mail!.body, /administrator rights/);
    assert.ok(mail!.body.includes(attacker.username), "the mail names the account");
    // The owner clicks the link in their own browser: no session of the attacker's account.
    assert.equal((await verify(t, tokenIn(mail))).statusCode, 204);
    const after = await me(t, access);
    assert.equal(after.email_verified, true, "the address is proven");
    assert.equal(after.role, "user", "the role is not");
    assert.equal((await t.app.inject({ url: "/api/admin/users", headers: bearer(access) })).statusCode, 403);
    const event = (await t.app.bulwark.audit.query({ eventType: "email.verified" })).events.find(
      (e) => e.target === attacker.userId,
    )!;
    assert.equal(event.metadata.role_granted, null);
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("the admin role is granted only when the link is confirmed inside the account's own session", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url, ADMIN_EMAILS: "boss@example.com" } });
  try {
    const boss = await register(t.app, { email: "Boss@Example.com", verified: false });
    const access = (await login(t.app, boss)).json().access_token as string;
    const stranger = await signedIn(t.app);
    await t.app.bulwark.mailer.idle();
    // Confirmed with another account's session: verified, not promoted.
    assert.equal(
      (await verify(t, tokenIn(smtp.to("boss@example.com", "confirm your email")[0]), bearer(stranger.access)))
        .statusCode,
      204,
    );
    assert.equal((await me(t, access)).role, "user");
    assert.equal((await me(t, stranger.access)).role, "user");
    // The verified owner asks again from their own session: a new link, and this time it grants.
    assert.equal(
      (await t.app.inject({ method: "POST", url: "/api/auth/email/verify/request", headers: bearer(access) }))
        .statusCode,
      202,
    );
    await t.app.bulwark.mailer.idle();
    const second = smtp.to("boss@example.com", "confirm your email")[1];
    assert.equal((await verify(t, tokenIn(second), bearer(access))).statusCode, 204);
    assert.equal((await me(t, access)).role, "admin");
    assert.equal((await t.app.inject({ url: "/api/admin/users", headers: bearer(access) })).statusCode, 200);
    const granted = (await t.app.bulwark.audit.query({ eventType: "email.verified" })).events.filter(
      (e) => e.target === boss.userId,
    );
    assert.deepEqual(granted.map((e) => e.metadata.role_granted).sort(), ["admin", null]);
    // An ordinary address's mail says nothing about administrator rights.
    const plain = smtp.to(stranger.email, "confirm your email")[0];
    assert.doesNotMatch(plain?.body ?? "", /administrator/);
  } finally {
    await t.close();
    await smtp.close();
  }
});
