import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, testStore, type TestApp } from "../../../test/harness.js";

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

test("GET /health answers ok", async () => {
  const res = await t.app.inject({ method: "GET", url: "/health" });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: "ok" });
});

test("GET /ready checks the database and the cache", async () => {
  const res = await t.app.inject({ method: "GET", url: "/ready" });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: "ok", checks: { database: "ok", cache: "ok" } });
});

test("GET /ready is 503 when the database went away", async () => {
  const store = await testStore();
  const u = await startApp({ store });
  try {
    await store.close();
    const res = await u.app.inject({ method: "GET", url: "/ready" });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { status: "unavailable", checks: { database: "down", cache: "ok" } });
    // Liveness is not readiness: the process is alive.
    assert.equal((await u.app.inject({ method: "GET", url: "/health" })).statusCode, 200);
  } finally {
    await u.close();
  }
});

test("GET /metrics needs the METRICS_TOKEN", async () => {
  for (const authorization of [
    undefined,
    "Bearer wrong",
    `Bearer ${t.config.metricsToken}x`,
    t.config.metricsToken,
    `bearer  ${t.config.metricsToken}`,
  ]) {
    const res = await t.app.inject({ method: "GET", url: "/metrics", headers: authorization ? { authorization } : {} });
    assert.equal(res.statusCode, 401, String(authorization));
    assert.equal(res.json().error.code, "unauthorized");
    assert.match(String(res.headers["www-authenticate"]), /^Bearer/);
  }
});

test("GET /metrics exposes request, latency, rate-limit, auth-failure and process metrics", async () => {
  await t.app.inject({ method: "GET", url: "/api/config/public" });
  await t.app.inject({ method: "GET", url: "/no/such/thing/123" });
  const res = await t.app.inject({
    method: "GET",
    url: "/metrics",
    headers: { authorization: `Bearer ${t.config.metricsToken}` },
  });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers["content-type"]), /^text\/plain/);
  assert.match(res.body, /bulwark_http_requests_total\{method="GET",route="\/api\/config\/public",status="200"\} 1/);
  assert.match(
    res.body,
    /bulwark_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/config\/public"\}/,
  );
  assert.match(res.body, /route="unmatched",status="404"/, "unmatched paths share one label (bounded cardinality)");
  assert.doesNotMatch(res.body, /no\/such\/thing/);
  for (const name of [
    "bulwark_rate_limit_exceeded_total",
    "bulwark_auth_failures_total",
    "process_resident_memory_bytes",
    "nodejs_eventloop_lag_seconds",
  ]) {
    assert.match(res.body, new RegExp(`# TYPE ${name} `), name);
  }
  assert.match(res.body, /bulwark_auth_failures_total\{reason="unauthorized"\} \d+/);
});
