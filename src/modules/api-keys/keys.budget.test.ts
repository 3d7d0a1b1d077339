// Threat: budgets multiplied by keys: a user mints keys, each with its own rate limit, and gets a
// budget per key instead of one per user; or mints thousands of keys (each one more secret to leak).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { bearer, signedIn, stepUp, type SignedIn } from "../../../test/identity.js";

const env = {
  RATE_LIMIT_PER_MINUTE: "6",
  RATE_LIMIT_PER_HOUR: "100000",
  SENSITIVE_PER_MINUTE: "1000",
  AUTH_LOGIN_PER_MINUTE: "1000",
  AUTH_REGISTER_PER_MINUTE: "1000",
};

test("keys with their own rate limit still count against their owner's per-minute budget", async () => {
  const t = await startApp({ env });
  try {
    const user = await signedIn(t.app);
    const keys: string[] = [];
    for (let i = 0; i < 3; i++)
      keys.push(
        (
          await t.app.bulwark.apiKeys.create(
            user.userId,
            { name: `k${i}`, scopes: [], rate_limit_per_minute: 6 },
            { userId: user.userId },
          )
        ).key,
      );
    const whoami = (key: string) => t.app.inject({ method: "GET", url: "/api/whoami", headers: { "x-api-key": key } });
    // Six requests spread over three keys use up the owner's six.
    for (let i = 0; i < 6; i++) assert.equal((await whoami(keys[i % 3]!)).statusCode, 200, `request ${i + 1}`);
    const refused = await whoami(keys[2]!);
    assert.equal(refused.statusCode, 429, "the owner's budget is spent, whichever key asks");
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(user.access) })).statusCode,
      429,
      "and the owner's session shares it",
    );
    t.clock.advance(61_000);
    assert.equal((await whoami(keys[0]!)).statusCode, 200);
  } finally {
    await t.close();
  }
});

test("a key's own limit is a further cap inside its owner's budget", async () => {
  const t = await startApp({ env });
  try {
    const user = await signedIn(t.app);
    const slow = await t.app.bulwark.apiKeys.create(
      user.userId,
      { name: "slow", scopes: [], rate_limit_per_minute: 2 },
      { userId: user.userId },
    );
    const whoami = (key: string) => t.app.inject({ method: "GET", url: "/api/whoami", headers: { "x-api-key": key } });
    assert.equal((await whoami(slow.key)).statusCode, 200);
    assert.equal((await whoami(slow.key)).statusCode, 200);
    const refused = await whoami(slow.key);
    assert.equal(refused.statusCode, 429);
    assert.match(String(refused.headers["ratelimit-policy"]), /"key";q=2;w=60/);
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(user.access) })).statusCode,
      200,
      "the owner still has budget left",
    );
  } finally {
    await t.close();
  }
});

test("a user holds at most API_KEYS_PER_USER live keys; revoking one makes room", async () => {
  const t = await startApp({ env: { ...env, RATE_LIMIT_PER_MINUTE: "1000", API_KEYS_PER_USER: "2" } });
  try {
    const user: SignedIn = await signedIn(t.app);
    await stepUp(t.app, user);
    const create = (name: string) =>
      t.app.inject({ method: "POST", url: "/api/keys", headers: bearer(user.access), payload: { name, scopes: [] } });
    const first = await create("one");
    assert.equal(first.statusCode, 201);
    assert.equal((await create("two")).statusCode, 201);
    const third = await create("three");
    assert.equal(third.statusCode, 409);
    assert.equal(third.json().error.code, "too_many_keys");
    // Concurrent creations cannot slip past the cap together.
    assert.equal(
      (await t.app.inject({ method: "DELETE", url: `/api/keys/${first.json().id}`, headers: bearer(user.access) }))
        .statusCode,
      204,
    );
    const racing = await Promise.all([create("a"), create("b"), create("c")]);
    assert.deepEqual(racing.map((r) => r.statusCode).sort(), [201, 409, 409]);
    assert.equal((await t.app.bulwark.apiKeys.list(user.userId)).length, 2);
    // Another user has a budget of their own.
    const other = await signedIn(t.app);
    await stepUp(t.app, other);
    assert.equal(
      (
        await t.app.inject({
          method: "POST",
          url: "/api/keys",
          headers: bearer(other.access),
          payload: { name: "x", scopes: [] },
        })
      ).statusCode,
      201,
    );
  } finally {
    await t.close();
  }
});
