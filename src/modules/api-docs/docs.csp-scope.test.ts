// Attack: a relaxed Content-Security-Policy leaking past the docs page to API responses, or the
// route map of a production deployment handed to anyone who asks. The docs page alone may load
// scripts and styles (from this origin only); in production both are off unless enabled.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadConfig } from "../../config/load.js";
import { productionEnv, startApp } from "../../../test/harness.js";
import { DOCS_CSP } from "./index.js";

const STRICT = "default-src 'none'; frame-ancestors 'none'";

test("only the docs page has the relaxed CSP; its assets and every API route keep the strict one", async () => {
  const t = await startApp();
  try {
    const page = await t.app.inject({ method: "GET", url: "/docs" });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.equal(page.headers["content-security-policy"], DOCS_CSP);
    assert.doesNotMatch(DOCS_CSP, /unsafe-inline|unsafe-eval|\*|https?:/, "no inline script, no eval, no other origin");
    assert.doesNotMatch(page.body, /<script>/, "the page has no inline script");
    for (const src of page.body.matchAll(/(?:src|href)="([^"]+)"/g)) {
      const asset = await t.app.inject({ method: "GET", url: src[1]! });
      assert.equal(asset.statusCode, 200, `${src[1]} is served`);
      assert.equal(asset.headers["content-security-policy"], STRICT, `${src[1]} keeps the strict CSP`);
    }
    for (const url of [
      "/openapi.json",
      "/health",
      "/api/whoami",
      "/docs/static/..%2Fpackage.json",
      "/docs/static/nope.js",
    ]) {
      const res = await t.app.inject({ method: "GET", url });
      assert.equal(res.headers["content-security-policy"], STRICT, `${url} keeps the strict CSP`);
    }
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/docs/static/..%2Fpackage.json" })).statusCode,
      400,
      "only the listed files",
    );
  } finally {
    await t.close();
  }
});

test("production serves neither the document nor the docs page unless enabled", async () => {
  const off = await startApp({ env: productionEnv() });
  try {
    assert.equal((await off.app.inject({ method: "GET", url: "/openapi.json" })).statusCode, 404);
    assert.equal((await off.app.inject({ method: "GET", url: "/docs" })).statusCode, 404);
    assert.ok(off.app.swagger().paths, "the document is still generated for the library and the client build");
  } finally {
    await off.close();
  }
  assert.throws(
    () => loadConfig({ ...productionEnv(), DOCS_ENABLED: "true" }),
    /DOCS_ENABLED/,
    "the page without its document is refused",
  );
  const cfg = loadConfig({ ...productionEnv(), OPENAPI_ENABLED: "true", DOCS_ENABLED: "true" });
  assert.deepEqual(cfg.apiDocs, { openapi: true, docs: true });
});
