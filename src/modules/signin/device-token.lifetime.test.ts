// Threat: a device token lives forever. One taken from a stolen laptop (or handed out to whoever
// held the account before its owner reset the password) keeps exempting its holder from lockout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { goodPassword, login, register } from "../../../test/identity.js";
import { startSmtp, tokenIn } from "../../../test/mail.js";

const env = {
  LOCKOUT_THRESHOLD: "3",
  AUTH_LOGIN_PER_MINUTE: "1000",
  RATE_LIMIT_PER_MINUTE: "10000",
  RATE_LIMIT_PER_HOUR: "100000",
  DEVICE_TOKEN_TTL_DAYS: "180",
};
const lock = async (t: { app: import("fastify").FastifyInstance }, username: string) => {
  for (let i = 0; i < 3; i++) await login(t.app, { username, password: "a wrong guess entirely" }, {}, "198.51.100.30");
};

test("a device token stops exempting from lockout after DEVICE_TOKEN_TTL_DAYS", async () => {
  const t = await startApp({ env });
  try {
    const user = await register(t.app);
    const deviceToken = (await login(t.app, user)).json().device_token as string;
    t.clock.advance(179 * 86_400_000);
    await lock(t, user.username);
    assert.equal(
      (await login(t.app, user, { device_token: deviceToken })).statusCode,
      200,
      "179 days old: still exempt",
    );
    t.clock.advance(2 * 86_400_000);
    await lock(t, user.username);
    assert.equal(
      (await login(t.app, user, { device_token: deviceToken })).statusCode,
      429,
      "181 days old: an unknown device",
    );
  } finally {
    await t.close();
  }
});

test("a password reset ends every device token issued before it", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { ...env, SMTP_URL: smtp.url } });
  try {
    const user = await register(t.app);
    // Whoever held the account (a squatter, a thief) signed in and kept the device token.
    const held = (await login(t.app, user)).json().device_token as string;
    t.clock.advance(1000);
    await t.app.inject({ method: "POST", url: "/api/auth/password/forgot", payload: { email: user.email } });
    await t.app.bulwark.mailer.idle();
    const password = goodPassword();
    const reset = await t.app.inject({
      method: "POST",
      url: "/api/auth/password/reset",
      payload: { token: tokenIn(smtp.to(user.email, "reset your password")[0]), new_password: password },
    });
    assert.equal(reset.statusCode, 204);
    t.clock.advance(1000);
    const fresh = (await login(t.app, { username: user.username, password })).json().device_token as string;
    await lock(t, user.username);
    assert.equal(
      (await login(t.app, { username: user.username, password }, { device_token: held })).statusCode,
      429,
      "the old token exempts nobody",
    );
    assert.equal(
      (await login(t.app, { username: user.username, password }, { device_token: fresh })).statusCode,
      200,
      "a token issued after the reset does",
    );
  } finally {
    await t.close();
    await smtp.close();
  }
});
