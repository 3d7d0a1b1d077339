// Threat: rotating one key twice at once (a retrying client, two operators, an attacker with the
// session) leaves two successors, one of which nobody knows about; rotating a retired key revives it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { bearer, signedIn, stepUp } from "../../../test/identity.js";

test("concurrent rotations of one key produce exactly one successor", async () => {
  const t = await startApp({
    env: { SENSITIVE_PER_MINUTE: "1000", AUTH_LOGIN_PER_MINUTE: "1000", RATE_LIMIT_PER_MINUTE: "1000" },
  });
  try {
    const user = await signedIn(t.app);
    await stepUp(t.app, user);
    const created = await t.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: bearer(user.access),
      payload: { name: "deploy", scopes: [] },
    });
    const old = created.json() as { id: string };
    const rotate = (id: string) =>
      t.app.inject({
        method: "POST",
        url: `/api/keys/${id}/rotate`,
        headers: bearer(user.access),
        payload: { grace_seconds: 600 },
      });
    const answers = await Promise.all(Array.from({ length: 6 }, () => rotate(old.id)));
    const statuses = answers.map((r) => r.statusCode).sort();
    assert.deepEqual(statuses, [201, 404, 404, 404, 404, 404], answers.map((r) => r.body).join("\n"));
    const live = await t.app.bulwark.apiKeys.list(user.userId);
    assert.equal(live.length, 2, "the old key (in its grace) and one successor");
    assert.equal(
      (await t.app.bulwark.audit.query({ eventType: "api_key.rotate" })).events.filter((e) => e.result === "success")
        .length,
      1,
    );
    // The retired key cannot be rotated again, not even later in its grace.
    t.clock.advance(60_000);
    const again = await rotate(old.id);
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().error.code, "not_found");
    // Its successor can.
    const successor = answers.find((r) => r.statusCode === 201)!.json() as { id: string };
    assert.equal((await rotate(successor.id)).statusCode, 201);
  } finally {
    await t.close();
  }
});
