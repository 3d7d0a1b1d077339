// Threat: history pagination that skips or repeats messages while others are being sent (offset paging), or whose deep pages get slower and slower.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { conversation, MESSAGE_LIMITS } from "../../../test/messages.js";

let t: TestApp;
before(async () => {
  t = await startApp({ env: MESSAGE_LIMITS });
});
after(() => t.close());

test("paging back through history while messages keep arriving returns each earlier message exactly once, in order", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  const messages = t.app.bulwark.messages;
  const sent: string[] = [];
  // Under a frozen clock every id shares one millisecond: the order must still be the sending order.
  for (let i = 0; i < 230; i++) sent.push((await messages.send(i % 2 ? ada.userId : bob.userId, id, `m${i}`)).id);

  const seen: string[] = [];
  let cursor: string | null | undefined;
  let pages = 0;
  do {
    const query = cursor ? `?before=${cursor}&limit=40` : "?limit=40";
    // Concurrent sends between (and during) page reads.
    const [res] = await Promise.all([
      t.app.inject({ method: "GET", url: `/api/conversations/${id}/messages${query}`, headers: bearer(bob.access) }),
      messages.send(ada.userId, id, `late ${pages}`),
      messages.send(bob.userId, id, `later ${pages}`),
    ]);
    assert.equal(res.statusCode, 200, res.body);
    const page = res.json();
    assert.ok(page.messages.length <= 40);
    seen.push(...page.messages.map((m: { id: string }) => m.id));
    cursor = page.next_cursor;
    pages++;
  } while (cursor);

  const earlier = seen.filter((s) => sent.includes(s));
  assert.deepEqual(earlier, [...sent].reverse(), "every message sent before the walk, once, newest first");
  assert.equal(new Set(seen).size, seen.length, "no repeats");
  assert.ok(pages >= 6);
});

test("limit is at most 100 and cursors are ids; anything else is 400", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  for (const query of ["?limit=101", "?limit=0", "?before=1%20or%201=1", "?before=zz", "?offset=10"]) {
    const res = await t.app.inject({
      method: "GET",
      url: `/api/conversations/${id}/messages${query}`,
      headers: bearer(ada.access),
    });
    assert.equal(res.statusCode, 400, query);
  }
});
