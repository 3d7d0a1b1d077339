import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { runInNewContext } from "node:vm";
import { startApp, type TestApp } from "../../../test/harness.js";

let t: TestApp;
before(async () => {
  t = await startApp({
    env: { PUBLIC_API_BASE: "https://api.example.com", PUBLIC_TRICK: "</script><script>alert(1)</script>" },
  });
});
after(() => t.close());

test("GET /env.js exposes the PUBLIC_* settings as a script, and nothing else", async () => {
  const res = await t.app.inject({ method: "GET", url: "/env.js" });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers["content-type"], "application/javascript; charset=utf-8");
  assert.equal(res.headers["cache-control"], "no-store");
  assert.doesNotMatch(res.body, /<\/script>/i, "cannot break out of an inline script");
  const window: { ENV?: Record<string, string> } = {};
  runInNewContext(res.body, { window });
  assert.deepEqual(JSON.parse(JSON.stringify(window.ENV)), {
    PUBLIC_API_BASE: "https://api.example.com",
    PUBLIC_TRICK: "</script><script>alert(1)</script>",
  });
  for (const secret of [t.config.secretKey, t.config.metricsToken, t.config.encryptionKeys])
    assert.equal(res.body.includes(secret), false);
});

test("GET /api/config/public returns the same settings as JSON", async () => {
  const res = await t.app.inject({ method: "GET", url: "/api/config/public" });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(Object.keys(res.json()).sort(), ["PUBLIC_API_BASE", "PUBLIC_TRICK"]);
});
