// Attack: a state-changing request with no body at all, to reach a handler that reads fields of a null body (a 500 instead of a clear answer).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../test/harness.js";
import { signedIn, bearer } from "../../test/identity.js";

test("a route whose body schema allows {} gets {} when no body is sent, never null", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const empty = await t.app.inject({
      method: "PATCH",
      url: "/api/users/me",
      headers: bearer(user.access),
      payload: {},
    });
    for (const headers of [{}, { "content-type": "application/json" }]) {
      const res = await t.app.inject({
        method: "PATCH",
        url: "/api/users/me",
        headers: { ...bearer(user.access), ...headers },
      });
      assert.ok(res.statusCode < 500, `${JSON.stringify(headers)}: ${res.statusCode} ${res.body}`);
      if (!("content-type" in headers)) assert.equal(res.statusCode, empty.statusCode, res.body);
    }
  } finally {
    await t.close();
  }
});
