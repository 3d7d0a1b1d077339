// Route schemas compile at first use or after listen (start-up time); none may be lost on the way:
// every route's schema must compile, and a broken one must be found, not serve its route unchecked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../test/harness.js";

test("every route schema of the app compiles", async () => {
  const t = await startApp();
  try {
    assert.ok(t.app.bulwark.routes().length > 50);
    assert.deepEqual(await t.app.bulwark.compileSchemas(), []);
  } finally {
    await t.close();
  }
});

test("a schema that does not compile is reported, and its route refuses instead of running unchecked", async () => {
  let ran = false;
  const t = await startApp({
    extend: (app) => {
      app.post(
        "/api/broken",
        {
          config: { auth: "public", rateLimit: "default" },
          schema: {
            body: {
              type: "object",
              properties: { n: { type: "integerr" } },
              required: ["n"],
              additionalProperties: false,
            },
          },
        },
        async () => {
          ran = true;
          return { ok: true };
        },
      );
    },
  });
  try {
    const res = await t.app.inject({ method: "POST", url: "/api/broken", payload: { n: "anything" } });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().error.code, "internal_error");
    assert.equal(ran, false, "the handler never ran without its validation");
    const failed = await t.app.bulwark.compileSchemas();
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.message, /schema is invalid: data\/properties\/n\/type/);
  } finally {
    await t.close();
  }
});
