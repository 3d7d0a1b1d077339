// The audit trail of a key names its owner: an investigator reading `api_key.create` must see whose
// key it is, not "[redacted]" (the scrubber redacts 32-hex values unless they sit under an id key).
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { startApp } from "../../../test/harness.js";
import { bearer, signedIn, stepUp } from "../../../test/identity.js";
import { rowsOf } from "../../store/db.js";

test("the api_key.create and api_key.revoke audit rows name the owner's id", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    await stepUp(t.app, user);
    const created = await t.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: bearer(user.access),
      payload: { name: "ci", scopes: [] },
    });
    assert.equal(created.statusCode, 201, created.body);
    const revoked = await t.app.inject({
      method: "DELETE",
      url: `/api/keys/${created.json().id}`,
      headers: bearer(user.access),
    });
    assert.equal(revoked.statusCode, 204, revoked.body);
    const rows = rowsOf<{ event_type: string; metadata: Record<string, unknown> }>(
      await t.store.db.execute(
        sql`select event_type, metadata from audit_logs where event_type in ('api_key.create', 'api_key.revoke') order by id`,
      ),
    );
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.equal(row.metadata.owner_id, user.userId, `${row.event_type}: ${JSON.stringify(row.metadata)}`);
      assert.ok(!JSON.stringify(row.metadata).includes("[redacted]"), row.event_type);
    }
  } finally {
    await t.close();
  }
});
