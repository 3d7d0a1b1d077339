// Threat: a stolen session guesses the account's password on the step-up routes (password change,
// email change, two-factor setup and disable), which today allow ten guesses a minute forever.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { bearer, goodPassword, login, signedIn } from "../../../test/identity.js";
import { startSmtp } from "../../../test/mail.js";

const env = {
  LOCKOUT_THRESHOLD: "3",
  SENSITIVE_PER_MINUTE: "1000",
  AUTH_LOGIN_PER_MINUTE: "1000",
  RATE_LIMIT_PER_MINUTE: "10000",
  RATE_LIMIT_PER_HOUR: "100000",
};

test("wrong passwords on step-up routes count toward the account's lockout, like failed logins", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { ...env, SMTP_URL: smtp.url } });
  try {
    const user = await signedIn(t.app);
    const post = (url: string, payload: Record<string, unknown>, method: "POST" | "PATCH" = "POST") =>
      t.app.inject({ method, url, headers: bearer(user.access), payload });
    const wrong = "not the password at all";
    // Three routes, one budget.
    assert.equal(
      (await post("/api/users/me/password", { current_password: wrong, new_password: goodPassword() })).statusCode,
      403,
    );
    assert.equal(
      (await post("/api/users/me", { email: "taken-over@example.com", current_password: wrong }, "PATCH")).statusCode,
      403,
    );
    assert.equal((await post("/api/auth/mfa/totp/setup", { password: wrong })).statusCode, 403);
    // Locked: even the right password is refused now, with the time to wait.
    const locked = await post("/api/users/me/password", {
      current_password: user.password,
      new_password: goodPassword(),
    });
    assert.equal(locked.statusCode, 429, locked.body);
    assert.equal(locked.json().error.code, "rate_limited");
    assert.equal(locked.headers["retry-after"], "30");
    assert.equal((await post("/api/auth/mfa/totp/setup", { password: user.password })).statusCode, 429);
    assert.equal((await post("/api/auth/step-up", { password: user.password })).statusCode, 429);
    // The same budget as login: a new device cannot sign in with the right password either.
    const fromElsewhere = await login(t.app, user, {}, "203.0.113.9");
    assert.equal(fromElsewhere.statusCode, 401);
    assert.equal(fromElsewhere.json().error.code, "invalid_credentials");
    // The owner is told, and the audit trail shows the guesses.
    await t.app.bulwark.mailer.idle();
    assert.equal(smtp.to(user.email, "paused").length, 1);
    const stepUps = (await t.app.bulwark.audit.query({ eventType: "auth.step_up", limit: 50 })).events.map(
      (e) => `${e.result}:${String(e.metadata.reason ?? "")}`,
    );
    assert.deepEqual(stepUps.filter((s) => s === "failure:bad_password").length, 3);
    assert.ok(stepUps.includes("denied:locked"));
    // Once the back-off is over the right password works again, and the count starts over after a success.
    t.clock.advance(31_000);
    assert.equal(
      (await post("/api/users/me/password", { current_password: user.password, new_password: goodPassword() }))
        .statusCode,
      204,
    );
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("the browser that signed in before (its device cookie) is not locked out of its own step-up by an attacker's guesses", async () => {
  const t = await startApp({ env });
  try {
    const user = await signedIn(t.app);
    for (let i = 0; i < 3; i++)
      await login(t.app, { username: user.email, password: "wrong wrong wrong" }, {}, "203.0.113.50");
    const own = await t.app.inject({
      method: "POST",
      url: "/api/auth/step-up",
      headers: { ...bearer(user.access), cookie: `bulwark_device=${user.deviceToken}` },
      payload: { password: user.password },
    });
    assert.equal(own.statusCode, 200, own.body);
    assert.equal(
      (
        await t.app.inject({
          method: "POST",
          url: "/api/auth/step-up",
          headers: bearer(user.access),
          payload: { password: user.password },
        })
      ).statusCode,
      429,
      "without the device token: locked",
    );
  } finally {
    await t.close();
  }
});
