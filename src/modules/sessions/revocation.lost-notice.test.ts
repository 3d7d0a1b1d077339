// Threat: a logout or key revocation made while an instance's Redis subscription was down keeps working there until the next periodic reload.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { createFakeClock } from "../../core/clock.js";
import { startDeployment, type TestApp, needs, TEST_REDIS_URL } from "../../../test/harness.js";
import { bearer, signedIn, stepUp } from "../../../test/identity.js";

const skip = needs("postgres", "redis");

/** Drops the deployment's subscriber connections, as a Redis restart or a network cut does. */
async function cutSubscribers(prefix: string): Promise<number> {
  const redis = new Redis(TEST_REDIS_URL!);
  try {
    const list = (await redis.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
    const ids = list
      .split("\n")
      .map((line) => Object.fromEntries(line.split(" ").map((field) => field.split("=", 2) as [string, string])))
      .filter((client) => client.name === `${prefix}:sub`)
      .map((client) => client.id as string);
    for (const id of ids) await redis.call("CLIENT", "KILL", "ID", id);
    return ids.length;
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` until it holds, for at most `attempts` tenths of a second (the periodic reload is 30 s). */
async function eventually(check: () => Promise<boolean>, attempts = 50): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

test("a revocation whose notice was missed is applied as soon as the subscription comes back", { skip }, async () => {
  const clock = createFakeClock(Date.UTC(2026, 0, 1, 12));
  const deployment = await startDeployment(2, {
    clock,
    env: { RATE_LIMIT_PER_MINUTE: "10000", SENSITIVE_PER_MINUTE: "1000", AUTH_LOGIN_PER_MINUTE: "1000" },
  });
  const [a, b] = deployment.instances as [TestApp, TestApp];
  const url = deployment.url;
  try {
    const user = await signedIn(a.app);
    await stepUp(a.app, user);
    const created = await a.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: bearer(user.access),
      payload: { name: "k", scopes: [] },
    });
    assert.equal(created.statusCode, 201);
    const key = created.json<{ id: string; key: string }>();
    const me = async () => (await fetch(url(b, "/api/users/me"), { headers: bearer(user.access) })).status;
    const who = async () => (await fetch(url(b, "/api/whoami"), { headers: { "x-api-key": key.key } })).status;
    assert.equal(await me(), 200, "B knows the session");
    assert.equal(await who(), 200, "B has the key cached");

    // Both revoked while the notices could not be delivered: committed, never announced.
    const at = new Date(clock.now());
    await a.store.db.execute(sql`update sessions set revoked_at = ${at} where user_id = ${user.userId}`);
    await a.store.db.execute(sql`update api_keys set revoked_at = ${at} where id = ${key.id}`);
    assert.equal(await me(), 200, "the notice was lost: B still trusts its memory");
    assert.equal(await who(), 200);

    assert.equal(await cutSubscribers(deployment.prefix), 2, "both instances' subscribers were cut");
    assert.ok(await eventually(async () => (await me()) === 401), "B refuses the session once resubscribed");
    assert.ok(await eventually(async () => (await who()) === 401), "B refuses the key once resubscribed");
  } finally {
    await deployment.close();
  }
});
