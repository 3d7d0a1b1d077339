// Threat: an attacker locks a username, then tries an email address: if that answers "locked" too,
// the two belong to one account, and the attacker has linked a public handle to a private address.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { LightMyRequestResponse } from "fastify";
import { startApp } from "../../../test/harness.js";
import { login, register } from "../../../test/identity.js";

const env = {
  LOCKOUT_THRESHOLD: "3",
  AUTH_LOGIN_PER_MINUTE: "1000",
  RATE_LIMIT_PER_MINUTE: "10000",
  RATE_LIMIT_PER_HOUR: "100000",
};
const attacker = "198.51.100.77";
const guess = (t: { app: import("fastify").FastifyInstance }, name: string, password = "a wrong guess entirely") =>
  login(t.app, { username: name, password }, {}, attacker);
/** What an answer tells the attacker: status, body and the rate-limit headers. */
const seen = (res: LightMyRequestResponse) => {
  const { request_id: _id, ...error } = res.json().error;
  return { status: res.statusCode, error, retry: res.headers["retry-after"] };
};

test("locking an account's username does not make its email answer differently from any other account's", async () => {
  const t = await startApp({ env });
  try {
    const victim = await register(t.app);
    const control = await register(t.app);
    for (let i = 0; i < 3; i++) await guess(t, victim.username);
    assert.equal((await guess(t, victim.username)).statusCode, 429, "the hammered name is locked");
    // The email of the locked account answers exactly like the email of an account nobody touched.
    for (let i = 0; i < 4; i++) {
      const linked = seen(await guess(t, victim.email));
      const unrelated = seen(await guess(t, control.email));
      assert.deepEqual(linked, unrelated, `attempt ${i + 1} through the email`);
    }
  } finally {
    await t.close();
  }
});

test("the account stays locked through its other name: the right password via the email does not get in during the lock", async () => {
  const t = await startApp({ env });
  try {
    const victim = await register(t.app);
    for (let i = 0; i < 3; i++) await guess(t, victim.username);
    const right = await guess(t, victim.email, victim.password);
    assert.equal(right.statusCode, 401, "refused like a wrong password, not 429");
    assert.equal(right.json().error.code, "invalid_credentials");
    t.clock.advance(31_000);
    assert.equal(
      (await login(t.app, { username: victim.email, password: victim.password })).statusCode,
      200,
      "after the back-off the owner gets in",
    );
  } finally {
    await t.close();
  }
});
