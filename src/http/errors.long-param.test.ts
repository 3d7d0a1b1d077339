// Attack: a path parameter longer than the router accepts (or any framework 4xx the envelope has no code for), to turn a refusal into a 500.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../test/harness.js";
import { signedIn, bearer } from "../../test/identity.js";

test("a path parameter over the router's length limit is a 400 invalid_request, never a 500", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    for (const [method, url] of [
      ["DELETE", `/api/sessions/${"x".repeat(201)}`],
      ["POST", `/api/conversations/${"a".repeat(5000)}/messages`],
      ["DELETE", `/api/admin/invitations/${"%41".repeat(300)}`],
      ["GET", `/docs/static/${"x".repeat(300)}`],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: bearer(user.access) });
      assert.equal(res.statusCode, 400, `${method} ${url.slice(0, 40)}: ${res.body}`);
      const body = res.json() as { error: { code: string; message: string } };
      assert.equal(body.error.code, "invalid_request");
      // The message does not quote the bytes that were sent.
      assert.ok(!/xxxxxxxx|aaaaaaaa|AAAAAAAA/.test(body.error.message), body.error.message);
      assert.equal(res.headers["x-content-type-options"], "nosniff");
    }
  } finally {
    await t.close();
  }
});
