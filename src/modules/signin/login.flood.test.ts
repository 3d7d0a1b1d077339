// Attack: a login flood beyond the password hasher's capacity, where every refused request still
// costs database work (lookups, counters, audit rows) on the event loop that signed-in users share.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPasswordHasher } from "../../core/crypto/index.js";
import { startApp } from "../../../test/harness.js";
import { login, register } from "../../../test/identity.js";

const env = {
  LOCKOUT_THRESHOLD: "3",
  AUTH_LOGIN_PER_MINUTE: "1000",
  RATE_LIMIT_PER_MINUTE: "10000",
  RATE_LIMIT_PER_HOUR: "100000",
};

test("with the hasher full, a login is refused 503 before any lookup: a locked name too, nothing counted or audited", async () => {
  // One slot and no queue: a place claimed here leaves none for a login.
  const hasher = createPasswordHasher({ maxConcurrent: 1, maxQueue: 0 });
  const t = await startApp({ env, hasher });
  try {
    const victim = await register(t.app);
    for (let i = 0; i < 3; i++) await login(t.app, { username: victim.username, password: "a wrong guess entirely" });
    assert.equal((await login(t.app, victim)).statusCode, 429, "the name is locked");
    const audited = (await t.app.bulwark.audit.query({ eventType: "auth.login", limit: 200 })).events.length;

    const held = hasher.admit();
    try {
      // The lock is a database read: answering 503 rather than 429 shows none was made.
      const locked = await login(t.app, victim);
      assert.equal(locked.statusCode, 503);
      assert.equal(locked.json().error.code, "service_unavailable");
      assert.equal(locked.headers["retry-after"], "1");
      const unknown = await login(t.app, { username: "nobody_at_all", password: "a wrong guess entirely" });
      assert.equal(unknown.statusCode, 503);
    } finally {
      held.release();
    }
    const after = (await t.app.bulwark.audit.query({ eventType: "auth.login", limit: 200 })).events.length;
    assert.equal(after, audited, "a refusal for capacity writes no audit row");
    t.clock.advance(31_000);
    assert.equal((await login(t.app, victim)).statusCode, 200, "the refusals counted no failure against the name");
  } finally {
    await t.close();
  }
});

test("the hasher place a login claims is given back on every path: 429, 401, 200", async () => {
  const hasher = createPasswordHasher({ maxConcurrent: 1, maxQueue: 0 });
  const t = await startApp({ env, hasher });
  try {
    const victim = await register(t.app);
    const other = await register(t.app);
    for (let i = 0; i < 3; i++)
      assert.equal((await login(t.app, { username: victim.username, password: "a wrong guess" })).statusCode, 401);
    assert.equal((await login(t.app, victim)).statusCode, 429, "locked: no verification");
    assert.equal((await login(t.app, other)).statusCode, 200, "a leaked place would leave none: 503");
    assert.deepEqual(
      { ...hasher.stats(), hashes: 0, verifications: 0 },
      { hashes: 0, verifications: 0, inFlight: 0, queued: 0, admitted: 0 },
    );
  } finally {
    await t.close();
  }
});
