// Attack: password truncation — a long password silently cut (a 64-character limit, bcrypt's 72 bytes), so that a prefix of it signs in.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBase62 } from "../../core/crypto/index.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { login, register } from "../../../test/identity.js";

let t: TestApp;
before(async () => {
  t = await startApp({
    env: { AUTH_LOGIN_PER_MINUTE: "1000", AUTH_REGISTER_PER_MINUTE: "1000", RATE_LIMIT_PER_MINUTE: "10000" },
  });
});
after(() => t.close());

for (const length of [64, 72, 128]) {
  test(`a ${length}-character password is used whole: register with it, then its ${length - 1}-character prefix is refused and the full one accepted`, async () => {
    const password = randomBase62(length);
    assert.equal(password.length, length);
    const user = await register(t.app, { password });
    const prefix = await login(t.app, { username: user.username, password: password.slice(0, -1) });
    assert.equal(prefix.statusCode, 401, "the prefix must not sign in");
    assert.equal(prefix.json().error.code, "invalid_credentials");
    const lastChanged = `${password.slice(0, -1)}${password.endsWith("A") ? "B" : "A"}`;
    assert.equal(
      (await login(t.app, { username: user.username, password: lastChanged })).statusCode,
      401,
      "the last character counts",
    );
    const whole = await login(t.app, { username: user.username, password });
    assert.equal(whole.statusCode, 200, whole.body);
  });
}

test("multi-byte passwords are not cut at a byte limit either: 72 characters of 2-byte UTF-8 (144 bytes)", async () => {
  const password = `${"é".repeat(36)}${randomBase62(36)}`;
  const user = await register(t.app, { password });
  assert.equal((await login(t.app, { username: user.username, password: password.slice(0, -1) })).statusCode, 401);
  assert.equal((await login(t.app, { username: user.username, password })).statusCode, 200);
});
