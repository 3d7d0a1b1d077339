import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../test/harness.js";

let t: TestApp;
before(async () => {
  t = await startApp({ env: { CORS_ORIGINS: "https://app.example.com,http://localhost:5173" } });
});
after(() => t.close());

test("an allowed origin is echoed exactly, with credentials and Vary: Origin", async () => {
  const res = await t.app.inject({ method: "GET", url: "/health", headers: { origin: "https://app.example.com" } });
  assert.equal(res.headers["access-control-allow-origin"], "https://app.example.com");
  assert.equal(res.headers["access-control-allow-credentials"], "true");
  assert.equal(res.headers.vary, "Origin");
  assert.match(String(res.headers["access-control-expose-headers"]), /X-Request-Id/);
});

test("another origin gets no CORS headers at all", async () => {
  for (const origin of [
    "https://evil.example",
    "https://app.example.com.evil.example",
    "http://app.example.com",
    "https://APP.example.com",
  ]) {
    const res = await t.app.inject({ method: "GET", url: "/health", headers: { origin } });
    assert.equal(res.headers["access-control-allow-origin"], undefined, origin);
    assert.equal(res.headers["access-control-allow-credentials"], undefined, origin);
    assert.equal(res.headers.vary, "Origin", origin);
  }
});

test("the null origin (sandboxed frames, files) is refused", async () => {
  const res = await t.app.inject({ method: "GET", url: "/health", headers: { origin: "null" } });
  assert.equal(res.headers["access-control-allow-origin"], undefined);
  const star = await startApp({ env: { CORS_ORIGINS: "*,null" } });
  try {
    for (const origin of ["null", "https://any.example"]) {
      const r = await star.app.inject({ method: "GET", url: "/health", headers: { origin } });
      assert.equal(r.headers["access-control-allow-origin"], undefined, `${origin} must not be allowed by * or null`);
    }
  } finally {
    await star.close();
  }
});

test("preflight from an allowed origin is answered with methods, headers and a cache time", async () => {
  const res = await t.app.inject({
    method: "OPTIONS",
    url: "/api/anything",
    headers: {
      origin: "http://localhost:5173",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization,content-type",
    },
  });
  assert.equal(res.statusCode, 204);
  assert.equal(res.headers["access-control-allow-origin"], "http://localhost:5173");
  assert.match(String(res.headers["access-control-allow-methods"]), /POST/);
  assert.match(String(res.headers["access-control-allow-headers"]), /Authorization/);
  assert.equal(res.headers["access-control-max-age"], "600");
  assert.equal(res.body, "");
});

test("preflight from another origin gets no allowance", async () => {
  const res = await t.app.inject({
    method: "OPTIONS",
    url: "/api/anything",
    headers: { origin: "https://evil.example", "access-control-request-method": "DELETE" },
  });
  assert.equal(res.statusCode, 204);
  assert.equal(res.headers["access-control-allow-origin"], undefined);
  assert.equal(res.headers["access-control-allow-methods"], undefined);
});
