// Attack: a small body of deeply nested JSON (100k levels) meant to exhaust the stack of whatever walks it (parser, validator, handler, logger).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../test/harness.js";
import { bearer, signedIn } from "../../test/identity.js";

const deepArray = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);

test("JSON nested past 32 levels is refused with 400 invalid_request before any route sees it", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const bodies = [
      deepArray(100_000),
      deepObject(50_000),
      `{"login":${deepArray(100_000)},"password":"x"}`,
      // Brackets inside strings are text, not nesting; nesting after them still counts.
      `{"login":"${"[".repeat(40)}","password":${deepArray(40)}}`,
    ];
    // POST /api/auth/logout declares no body schema: without a cap in the parser it would accept any depth.
    for (const url of ["/api/auth/login", "/api/auth/register", "/api/auth/logout"]) {
      for (const payload of bodies) {
        const res = await t.app.inject({
          method: "POST",
          url,
          headers: { "content-type": "application/json", ...bearer(user.access) },
          payload,
        });
        assert.equal(res.statusCode, 400, `${url}: ${res.body.slice(0, 200)}`);
        const error = res.json().error;
        assert.equal(error.code, "invalid_request");
        assert.match(error.message, /nested too deeply/);
        assert.equal(res.headers["x-content-type-options"], "nosniff", "the security headers are on the refusal");
      }
    }
    const still = await t.app.inject({ method: "GET", url: "/api/sessions", headers: bearer(user.access) });
    assert.equal(still.statusCode, 200, "the refused logout ended nothing");
    // 32 levels, and brackets inside strings, are ordinary JSON.
    const ok = await t.app.inject({
      method: "POST",
      url: "/api/auth/login",
      headers: { "content-type": "application/json" },
      payload: `{"login":"${"[{".repeat(100)}","password":"x"}`,
    });
    assert.equal(ok.statusCode, 401, ok.body);
    const atCap = await t.app.inject({
      method: "POST",
      url: "/api/auth/login",
      headers: { "content-type": "application/json" },
      payload: `{"login":${deepArray(31)},"password":"x"}`,
    });
    assert.equal(atCap.statusCode, 400);
    assert.doesNotMatch(
      atCap.json().error.message,
      /nested too deeply/,
      "32 levels pass the parser (and fail the schema)",
    );
  } finally {
    await t.close();
  }
});
