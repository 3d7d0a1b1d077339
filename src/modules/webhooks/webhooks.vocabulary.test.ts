// Threat: a security event is recorded and meant to go out (its module says so), but the hand-kept
// list of outbound events lacks it, so no endpoint can subscribe to it and it is silently never sent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { OUTBOUND_EVENTS } from "./index.js";

test("every outbound event an audit event declares is one endpoints can subscribe to, and no other", async () => {
  const t = await startApp();
  try {
    const declared = new Set<string>();
    for (const spec of t.app.bulwark.audit.vocabulary().values()) if (spec.webhook) declared.add(spec.webhook.event);
    assert.ok(declared.has("email.change_undone"));
    assert.deepEqual([...declared].sort(), [...OUTBOUND_EVENTS].sort());
  } finally {
    await t.close();
  }
});
