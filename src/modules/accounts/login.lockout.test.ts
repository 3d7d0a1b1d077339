// Threat: online password guessing against one account, and an attacker abusing lockout to keep its owner out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { startApp, type TestApp } from "../../../test/harness.js";
import { login, register } from "../../../test/identity.js";

const env = {
  LOCKOUT_THRESHOLD: "3",
  AUTH_LOGIN_PER_MINUTE: "1000",
  RATE_LIMIT_PER_MINUTE: "10000",
  RATE_LIMIT_PER_HOUR: "100000",
};

async function fail(t: TestApp, username: string, ip = "198.51.100.20") {
  return login(t.app, { username, password: "definitely not the password" }, {}, ip);
}

test("after LOCKOUT_THRESHOLD failures a login name backs off 30 s, doubling, even with the right password", async () => {
  const t = await startApp({ env });
  try {
    const user = await register(t.app);
    for (let i = 0; i < 3; i++) assert.equal((await fail(t, user.username)).statusCode, 401);
    const locked = await login(t.app, user);
    assert.equal(locked.statusCode, 429);
    assert.equal(locked.json().error.code, "rate_limited");
    assert.equal(locked.headers["retry-after"], "30");
    t.clock.advance(31_000);
    assert.equal((await fail(t, user.username)).statusCode, 401);
    const longer = await login(t.app, user);
    assert.equal(longer.statusCode, 429);
    assert.equal(longer.headers["retry-after"], "60", "the back-off doubles");
    t.clock.advance(61_000);
    assert.equal((await login(t.app, user)).statusCode, 200, "the owner gets in once the back-off is over");
    assert.equal((await fail(t, user.username)).statusCode, 401, "and a success starts the count over");
  } finally {
    await t.close();
  }
});

test("an account's username and email share one failure budget, silently", async () => {
  const t = await startApp({ env });
  try {
    const user = await register(t.app);
    await fail(t, user.username);
    await fail(t, user.email.toUpperCase());
    await fail(t, user.username);
    // The account is locked, but the email (not itself hammered) answers like a wrong password, not
    // 429: otherwise the lock would tell an attacker that this email and that username are one account.
    const viaEmail = await login(t.app, { username: user.email, password: user.password });
    assert.equal(viaEmail.statusCode, 401);
    assert.equal(viaEmail.json().error.code, "invalid_credentials");
    const rows = JSON.stringify(await t.store.db.execute(sql`select * from login_failures`));
    assert.equal(
      rows.includes(user.username) || rows.includes(user.email),
      false,
      "login names are not stored in clear",
    );
  } finally {
    await t.close();
  }
});

test("names without an account are locked the same way, so lockout does not reveal which exist", async () => {
  const t = await startApp({ env });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await fail(t, "ghost_user")).statusCode, 401);
    const res = await fail(t, "ghost_user");
    assert.equal(res.statusCode, 429);
    assert.equal(res.headers["retry-after"], "30");
  } finally {
    await t.close();
  }
});

test("a device that signed in before is exempt from the back-off, so an attacker cannot lock the owner out", async () => {
  const t = await startApp({ env });
  try {
    const user = await register(t.app);
    const first = await login(t.app, user);
    const deviceToken = first.json().device_token as string;
    assert.match(deviceToken, /^d2\./);
    for (let i = 0; i < 5; i++) await fail(t, user.username, "203.0.113.66");
    assert.equal((await login(t.app, user)).statusCode, 429, "a new device is locked out");
    assert.equal((await login(t.app, user, { device_token: deviceToken })).statusCode, 200, "the known device gets in");
    const cookie = await t.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { login: user.username, password: user.password },
      headers: { cookie: `bulwark_device=${deviceToken}` },
    });
    assert.equal(cookie.statusCode, 200, "also when the device token comes as the bulwark_device cookie");
    const other = await register(t.app);
    assert.equal(
      (
        await login(
          t.app,
          { username: user.username, password: user.password },
          { device_token: (await login(t.app, other)).json().device_token },
        )
      ).statusCode,
      429,
      "another account's device token does not exempt",
    );
    const forged = deviceToken.replace(/.$/, (c) => (c === "A" ? "B" : "A"));
    assert.equal(
      (await login(t.app, user, { device_token: forged })).statusCode,
      429,
      "a forged device token does not exempt",
    );
  } finally {
    await t.close();
  }
});

test("no login name gets more than 100 failures an hour, known device or not", async () => {
  const t = await startApp({ env: { ...env, LOCKOUT_THRESHOLD: "100" } });
  try {
    const user = await register(t.app);
    const deviceToken = (await login(t.app, user)).json().device_token as string;
    for (let i = 0; i < 100; i++) {
      const res = await login(
        t.app,
        { username: user.username, password: "wrong wrong wrong" },
        { device_token: deviceToken },
      );
      assert.equal(res.statusCode, 401, `attempt ${i + 1}`);
    }
    assert.equal((await login(t.app, user, { device_token: deviceToken })).statusCode, 429);
    t.clock.advance(3_601_000);
    assert.equal((await login(t.app, user, { device_token: deviceToken })).statusCode, 200);
  } finally {
    await t.close();
  }
});

test("the audit trail of fail, fail, fail (lockout), locked, success", async () => {
  const t = await startApp({ env });
  try {
    const user = await register(t.app);
    for (let i = 0; i < 3; i++) await fail(t, user.username);
    await login(t.app, user);
    t.clock.advance(31_000);
    await login(t.app, user);
    const events = (await t.app.bulwark.audit.query({ limit: 50 })).events
      .filter((e) => e.event_type.startsWith("auth."))
      .reverse()
      .map((e) => `${e.event_type}:${e.result}:${String(e.metadata.reason ?? "")}`);
    assert.deepEqual(events, [
      "auth.login:failure:bad_password",
      "auth.login:failure:bad_password",
      "auth.login:failure:bad_password",
      "auth.lockout:denied:",
      "auth.login:denied:locked",
      "auth.login:success:",
    ]);
    const all = JSON.stringify((await t.app.bulwark.audit.query({ limit: 50 })).events);
    assert.equal(all.includes(user.password), false, "no password in the audit log");
    assert.equal(all.includes("definitely not the password"), false);
    const metrics = await t.app.bulwark.metrics.registry.getSingleMetricAsString("bulwark_auth_failures_total");
    assert.match(metrics, /reason="lockout"\} 1/);
    assert.equal((await t.app.bulwark.audit.verify()).ok, true);
  } finally {
    await t.close();
  }
});
