import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createFakeClock } from "../core/clock.js";
import { randomToken } from "../core/crypto/index.js";
import { createCounters } from "../store/counters.js";
import {
  startApp,
  testCounters,
  testSecrets,
  testStore,
  TEST_REDIS_URL,
  type TestApp,
  needs,
} from "../../test/harness.js";

const opened: TestApp[] = [];
const given: { close(): Promise<void> }[] = [];
after(async () => {
  for (const t of opened) await t.close();
  for (const counters of given) await counters.close();
});
/** Starts an app; counters passed in are closed after the file's tests (the harness closes only its own). */
async function app(options: Parameters<typeof startApp>[0] = {}): Promise<TestApp> {
  if (options.counters) given.push(options.counters);
  const t = await startApp(options);
  opened.push(t);
  return t;
}

const kinds = TEST_REDIS_URL ? (["memory", "redis"] as const) : (["memory"] as const);

for (const kind of kinds) {
  test(`${kind}: the per-minute limit refuses the next request with 429, Retry-After and draft headers`, async () => {
    const clock = createFakeClock(Date.UTC(2026, 0, 1, 12, 0, 15));
    const t = await app({
      clock,
      counters: testCounters(clock, { kind }),
      env: { RATE_LIMIT_PER_MINUTE: "3", RATE_LIMIT_PER_HOUR: "100" },
    });
    for (let i = 3; i >= 1; i--) {
      const res = await t.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: "203.0.113.1" });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers["ratelimit-policy"], '"minute";q=3;w=60, "hour";q=100;w=3600');
      assert.equal(res.headers.ratelimit, `"minute";r=${i - 1};t=45`);
    }
    const refused = await t.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: "203.0.113.1" });
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().error.code, "rate_limited");
    assert.equal(refused.headers["retry-after"], "45");
    assert.equal(refused.headers.ratelimit, '"minute";r=0;t=45');
    // Another client is not affected.
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: "203.0.113.2" })).statusCode,
      200,
    );
    // The next window starts afresh, without sleeping.
    clock.advance(45_000);
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: "203.0.113.1" })).statusCode,
      200,
    );
  });

  test(`${kind}: the per-hour limit holds across minutes`, async () => {
    const clock = createFakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const t = await app({
      clock,
      counters: testCounters(clock, { kind }),
      env: { RATE_LIMIT_PER_MINUTE: "100", RATE_LIMIT_PER_HOUR: "4" },
    });
    for (let i = 0; i < 4; i++) {
      assert.equal(
        (await t.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: "203.0.113.3" })).statusCode,
        200,
      );
      clock.advance(61_000);
    }
    const refused = await t.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: "203.0.113.3" });
    assert.equal(refused.statusCode, 429);
    assert.match(String(refused.headers.ratelimit), /^"hour";r=0;t=\d+$/);
    assert.equal(Number(refused.headers["retry-after"]), 3600 - 4 * 61);
  });
}

test("health checks are exempt from rate limits", async () => {
  const t = await app({ env: { RATE_LIMIT_PER_MINUTE: "1" } });
  for (let i = 0; i < 5; i++) {
    assert.equal((await t.app.inject({ method: "GET", url: "/health" })).statusCode, 200);
    assert.equal((await t.app.inject({ method: "GET", url: "/ready" })).statusCode, 200);
  }
});

test("X-Forwarded-For is not believed by default: a client cannot dodge its limit by forging it", async () => {
  const t = await app({ env: { RATE_LIMIT_PER_MINUTE: "2" } });
  const statuses = [];
  for (let i = 0; i < 3; i++) {
    const res = await t.app.inject({
      method: "GET",
      url: "/api/config/public",
      remoteAddress: "203.0.113.9",
      headers: { "x-forwarded-for": `10.0.0.${i}` },
    });
    statuses.push(res.statusCode);
  }
  assert.deepEqual(statuses, [200, 200, 429]);
});

test("with TRUST_PROXY=1 the proxy's X-Forwarded-For hop names the client", async () => {
  const t = await app({ env: { RATE_LIMIT_PER_MINUTE: "1", TRUST_PROXY: "1" } });
  const a = await t.app.inject({
    method: "GET",
    url: "/api/config/public",
    remoteAddress: "10.0.0.1",
    headers: { "x-forwarded-for": "198.51.100.1" },
  });
  const b = await t.app.inject({
    method: "GET",
    url: "/api/config/public",
    remoteAddress: "10.0.0.1",
    headers: { "x-forwarded-for": "198.51.100.2" },
  });
  const c = await t.app.inject({
    method: "GET",
    url: "/api/config/public",
    remoteAddress: "10.0.0.1",
    headers: { "x-forwarded-for": "198.51.100.1" },
  });
  assert.deepEqual([a.statusCode, b.statusCode, c.statusCode], [200, 200, 429]);
});

test("IPv6 clients are counted by /64: rotating addresses inside one prefix does not help", async () => {
  const t = await app({ env: { RATE_LIMIT_PER_MINUTE: "2" } });
  const statuses = [];
  for (const ip of ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd"]) {
    statuses.push((await t.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: ip })).statusCode);
  }
  assert.deepEqual(statuses, [200, 200, 429]);
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: "2001:db8:1:3::1" })).statusCode,
    200,
  );
});

test("a rate-limit violation is audited once per key and window, however long the flood", async () => {
  const t = await app({ env: { RATE_LIMIT_PER_MINUTE: "1" } });
  for (let i = 0; i < 20; i++)
    await t.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: "203.0.113.77" });
  // The audit write is not awaited by the request; let it land.
  await new Promise((resolve) => setImmediate(resolve));
  let events: { ip: string | null }[] = [];
  for (let i = 0; i < 50 && events.length === 0; i++) {
    events = (await t.app.bulwark.audit.query({ eventType: "rate_limit.exceeded" })).events;
    if (events.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(events.length, 1);
  assert.equal(events[0]!.ip, "203.0.113.77");
  const metrics = await t.app.bulwark.metrics.registry.getSingleMetricAsString("bulwark_rate_limit_exceeded_total");
  assert.match(metrics, /bulwark_rate_limit_exceeded_total\{policy="minute"\} 19/);
});

test("failed authentications are rate limited too: credential guessing gets 429, not endless 401s", async () => {
  const t = await app({ env: { RATE_LIMIT_PER_MINUTE: "3" } });
  const statuses = [];
  for (let i = 0; i < 5; i++) {
    const res = await t.app.inject({
      method: "GET",
      url: "/api/admin/audit-logs",
      remoteAddress: "203.0.113.90",
      headers: { authorization: `Bearer guess-${i}` },
    });
    statuses.push(res.statusCode);
  }
  assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
});

test("RATE_LIMIT_ENABLED=false turns limits off", async () => {
  const t = await app({ env: { RATE_LIMIT_PER_MINUTE: "1", RATE_LIMIT_ENABLED: "false" } });
  for (let i = 0; i < 3; i++)
    assert.equal((await t.app.inject({ method: "GET", url: "/api/config/public" })).statusCode, 200);
});

test("two instances sharing one Redis enforce one global limit", { skip: needs("redis") }, async () => {
  const clock = createFakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  const prefix = `bwtest:${randomToken(6)}`;
  const store = await testStore();
  // Instances of one deployment share their secrets (the signing key is encrypted with them).
  const env = { ...testSecrets(), RATE_LIMIT_PER_MINUTE: "4" };
  const a = await app({ clock, store, env, counters: testCounters(clock, { kind: "redis", prefix }) });
  const b = await app({ clock, store, env, counters: testCounters(clock, { kind: "redis", prefix }) });
  const statuses = [];
  for (let i = 0; i < 6; i++) {
    const instance = i % 2 === 0 ? a : b;
    statuses.push(
      (await instance.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: "203.0.113.50" }))
        .statusCode,
    );
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
  for (const t of opened.splice(0)) await t.close();
  await store.close();
});

test("when Redis is unreachable, limits still hold per instance and /ready says the cache is degraded", async () => {
  const clock = createFakeClock();
  // Nothing listens on port 1: every Redis call fails at once and the insurance limiter answers.
  const counters = createCounters({ clock, redisUrl: "redis://127.0.0.1:1", prefix: `bwtest:${randomToken(6)}` });
  const t = await app({ clock, counters, env: { RATE_LIMIT_PER_MINUTE: "2" } });
  const statuses = [];
  for (let i = 0; i < 3; i++)
    statuses.push(
      (await t.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: "203.0.113.60" })).statusCode,
    );
  assert.deepEqual(statuses, [200, 200, 429]);
  const ready = await t.app.inject({ method: "GET", url: "/ready" });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { status: "degraded", checks: { database: "ok", cache: "degraded" } });
  await counters.close();
});
