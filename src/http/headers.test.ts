import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Type } from "typebox";
import { startApp, type TestApp } from "../../test/harness.js";

const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "cache-control": "no-store",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "x-xss-protection": "0",
};

let t: TestApp;
before(async () => {
  t = await startApp({
    env: { RATE_LIMIT_PER_MINUTE: "30" },
    extend: (app) => {
      app.get("/boom", { config: { auth: "public", rateLimit: "default" } }, async () => {
        throw new Error("connect ECONNREFUSED postgres://admin:hunter2@db/prod");
      });
      app.post(
        "/echo",
        {
          schema: { body: Type.Object({ name: Type.String() }, { additionalProperties: false }) },
          config: { auth: "public", rateLimit: "default" },
        },
        async (req) => req.body,
      );
      app.get("/secret-area", { config: { auth: "user", rateLimit: "default" } }, async () => ({ ok: true }));
    },
  });
});
after(() => t.close());

function assertSecurityHeaders(headers: Record<string, unknown>, what: string): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) assert.equal(headers[name], value, `${what}: ${name}`);
  assert.match(
    String(headers["permissions-policy"]),
    /camera=\(\).*geolocation=\(\).*microphone=\(\)/,
    `${what}: permissions-policy`,
  );
  assert.match(String(headers["x-request-id"]), /^[A-Za-z0-9._:-]{8,128}$/, `${what}: x-request-id`);
  assert.equal(headers["x-powered-by"], undefined, `${what}: no x-powered-by`);
  assert.equal(headers["strict-transport-security"], undefined, `${what}: no HSTS outside production`);
}

test("security headers are on every kind of response", async () => {
  const cases = [
    { what: "200", req: { method: "GET" as const, url: "/health" }, status: 200 },
    { what: "400", req: { method: "POST" as const, url: "/echo", payload: { name: 1 } }, status: 400 },
    { what: "401", req: { method: "GET" as const, url: "/secret-area" }, status: 401 },
    { what: "404", req: { method: "GET" as const, url: "/no/such/route" }, status: 404 },
    {
      what: "413",
      req: { method: "POST" as const, url: "/echo", payload: { name: "x".repeat(1_100_000) } },
      status: 413,
    },
    {
      what: "415",
      req: { method: "POST" as const, url: "/echo", payload: "name=x", headers: { "content-type": "text/plain" } },
      status: 415,
    },
    { what: "500", req: { method: "GET" as const, url: "/boom" }, status: 500 },
    {
      what: "preflight",
      req: {
        method: "OPTIONS" as const,
        url: "/echo",
        headers: { origin: "http://localhost:5173", "access-control-request-method": "POST" },
      },
      status: 204,
    },
    { what: "bad url", req: { method: "GET" as const, url: "/%E0%A4%A" }, status: 400 },
  ];
  for (const c of cases) {
    const res = await t.app.inject(c.req);
    assert.equal(res.statusCode, c.status, `${c.what}: status`);
    assertSecurityHeaders(res.headers, c.what);
  }
});

test("a 429 carries the security headers too", async () => {
  let res;
  for (let i = 0; i < 31; i++)
    res = await t.app.inject({ method: "GET", url: "/api/config/public", remoteAddress: "198.51.100.7" });
  assert.equal(res?.statusCode, 429);
  assertSecurityHeaders(res!.headers, "429");
});

test("a 500 never shows the error's message, stack or secrets", async () => {
  const res = await t.app.inject({ method: "GET", url: "/boom", remoteAddress: "198.51.100.8" });
  assert.equal(res.statusCode, 500);
  const body = res.json();
  assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "request_id"]);
  assert.equal(body.error.code, "internal_error");
  assert.equal(body.error.request_id, res.headers["x-request-id"]);
  assert.doesNotMatch(res.body, /hunter2|ECONNREFUSED|postgres|at .*\.ts/);
});

test("HSTS is sent in production", async () => {
  const { securityHeaders } = await import("./headers.js");
  assert.equal(securityHeaders(true)["strict-transport-security"], "max-age=63072000; includeSubDomains");
  assert.equal(securityHeaders(false)["strict-transport-security"], undefined);
});

test("a well-formed client request id is echoed; a malformed one is replaced", async () => {
  const good = await t.app.inject({ method: "GET", url: "/health", headers: { "x-request-id": "trace-abc-12345678" } });
  assert.equal(good.headers["x-request-id"], "trace-abc-12345678");
  const bad = await t.app.inject({
    method: "GET",
    url: "/health",
    headers: { "x-request-id": "x\r\nset-cookie: a=b" },
  });
  assert.notEqual(bad.headers["x-request-id"], "x\r\nset-cookie: a=b");
  assert.match(String(bad.headers["x-request-id"]), /^[A-Za-z0-9_-]{8}-[0-9a-z]{8,}$/);
  const long = await t.app.inject({ method: "GET", url: "/health", headers: { "x-request-id": "a".repeat(500) } });
  assert.match(String(long.headers["x-request-id"]), /^[A-Za-z0-9_-]{8}-[0-9a-z]{8,}$/);
  const ids = new Set();
  for (let i = 0; i < 50; i++) ids.add((await t.app.inject({ method: "GET", url: "/health" })).headers["x-request-id"]);
  assert.equal(ids.size, 50, "generated ids are unique");
});
