// Notices by mail: a sign-in from a new device and a lockout are told to the owner, who may not be
// the one signing in (a stolen password, a guessing attack).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { login, register } from "../../../test/identity.js";
import { startSmtp } from "../../../test/mail.js";

test("a login from a device without a device token mails a new-sign-in notice (IP, user agent, time); a known device does not", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url } });
  try {
    const user = await register(t.app);
    const first = await t.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { login: user.username, password: user.password },
      remoteAddress: "203.0.113.7",
      headers: { "user-agent": "Evil <script>alert(1)</script>" },
    });
    assert.equal(first.statusCode, 200);
    await t.app.bulwark.mailer.idle();
    const notices = smtp.to(user.email, "new sign-in");
    assert.equal(notices.length, 1);
    const body = notices[0]!.body;
    assert.ok(body.includes("203.0.113.7"));
    assert.ok(body.includes("Evil <script>alert(1)</script>"), "the text part has the user agent as sent");
    assert.ok(body.includes("Evil &lt;script&gt;alert(1)&lt;/script&gt;"), "the HTML part has it escaped");
    assert.ok(body.includes(new Date(t.clock.now()).toISOString()));
    await login(t.app, user, { device_token: first.json().device_token });
    await t.app.bulwark.mailer.idle();
    assert.equal(smtp.to(user.email, "new sign-in").length, 1, "no notice for a known device");
    await login(t.app, user);
    await t.app.bulwark.mailer.idle();
    assert.equal(smtp.to(user.email, "new sign-in").length, 2);
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("a lockout mails the owner a notice with a reset link, at most once an hour", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url, AUTH_LOGIN_PER_MINUTE: "100" } });
  try {
    const user = await register(t.app);
    const wrong = { username: user.username, password: "wrong password entirely" };
    for (let i = 0; i < 5; i++) assert.equal((await login(t.app, wrong)).statusCode, 401);
    await t.app.bulwark.mailer.idle();
    const notices = smtp.to(user.email, "sign-in to your account is paused");
    assert.equal(notices.length, 1);
    assert.ok(notices[0]!.body.includes(`${t.config.publicUrl}/reset-password`));
    t.clock.advance(31_000);
    assert.equal((await login(t.app, wrong)).statusCode, 401);
    await t.app.bulwark.mailer.idle();
    assert.equal(smtp.to(user.email, "sign-in to your account is paused").length, 1, "not a mail per failure");
    // A guessed name without an account gets no mail (and the same answers).
    for (let i = 0; i < 5; i++)
      await login(t.app, { username: "no_such_user_here", password: "wrong password entirely" });
    await t.app.bulwark.mailer.idle();
    assert.equal(smtp.mails.filter((m) => m.subject.includes("paused")).length, 1);
  } finally {
    await t.close();
    await smtp.close();
  }
});
