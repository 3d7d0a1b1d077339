// The messages contract: conversations, members, history, edits, deletions, blocks, retention.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../store/db.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { conversation, MESSAGE_LIMITS, send } from "../../../test/messages.js";

let t: TestApp;
before(async () => {
  t = await startApp({ env: MESSAGE_LIMITS });
});
after(() => t.close());

test("a group conversation: members send and read; the history is newest first with the message object's fields", async () => {
  const [ada, bob, cy] = [await signedIn(t.app), await signedIn(t.app), await signedIn(t.app)];
  const res = await t.app.inject({
    method: "POST",
    url: "/api/conversations",
    headers: bearer(ada.access),
    payload: { type: "group", member_ids: [bob.userId, cy.userId], title: "Plans" },
  });
  assert.equal(res.statusCode, 201, res.body);
  const conv = res.json().conversation;
  assert.equal(conv.type, "group");
  assert.equal(conv.title, "Plans");
  assert.deepEqual(conv.member_ids, [ada.userId, bob.userId, cy.userId].sort());

  const first = await send(t.app, ada, conv.id, "hello");
  assert.deepEqual(Object.keys(first).sort(), [
    "author_id",
    "body",
    "conversation_id",
    "created_at",
    "edited_at",
    "id",
  ]);
  assert.equal(first.author_id, ada.userId);
  assert.equal(first.edited_at, null);
  await send(t.app, bob, conv.id, "hi ada");
  const page = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${conv.id}/messages`,
    headers: bearer(cy.access),
  });
  assert.equal(page.statusCode, 200, page.body);
  assert.deepEqual(
    page.json().messages.map((m: { body: string }) => m.body),
    ["hi ada", "hello"],
  );
  assert.equal(page.json().next_cursor, null);

  const list = await t.app.inject({ method: "GET", url: "/api/conversations", headers: bearer(bob.access) });
  assert.equal(list.statusCode, 200);
  assert.ok(list.json().conversations.some((c: { id: string }) => c.id === conv.id));
});

test("a direct conversation is one per pair: asking again returns the same one", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const a = await t.app.inject({
    method: "POST",
    url: "/api/conversations",
    headers: bearer(ada.access),
    payload: { type: "direct", member_ids: [bob.userId] },
  });
  assert.equal(a.statusCode, 201);
  const b = await t.app.inject({
    method: "POST",
    url: "/api/conversations",
    headers: bearer(bob.access),
    payload: { type: "direct", member_ids: [ada.userId] },
  });
  assert.equal(b.statusCode, 200);
  assert.equal(b.json().conversation.id, a.json().conversation.id);
  const three = await t.app.inject({
    method: "POST",
    url: "/api/conversations",
    headers: bearer(ada.access),
    payload: { type: "direct", member_ids: [bob.userId, (await signedIn(t.app)).userId] },
  });
  assert.equal(three.statusCode, 400);
});

test("bodies: NFC-normalised, 4000 characters at most, control characters (line breaks aside) and unknown fields refused with 400", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  const decomposed = "cafe\u0301";
  assert.equal((await send(t.app, ada, id, decomposed)).body, "caf\u00e9");
  assert.equal((await send(t.app, ada, id, "é".repeat(4000))).body.length, 4000);
  for (const payload of [
    { body: "x".repeat(4001) },
    { body: "" },
    { body: "a\u0000b" },
    { body: "lone\rcarriage return" },
    { body: "\u202Egnp.exe" },
    { body: "ok", extra: 1 },
    {},
  ]) {
    const res = await t.app.inject({
      method: "POST",
      url: `/api/conversations/${id}/messages`,
      headers: bearer(ada.access),
      payload,
    });
    assert.equal(res.statusCode, 400, JSON.stringify(payload));
    assert.equal(res.json().error.code, "invalid_request");
  }
  const page = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${id}/messages`,
    headers: bearer(ada.access),
  });
  assert.equal(page.json().messages.length, 2, "nothing refused was stored");
});

test("edit and delete one's own messages, audited as ids without the text; someone else's message is 404", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  const secret = `the vault code is ${Math.random()}`;
  const m = await send(t.app, ada, id, secret);
  const url = `/api/conversations/${id}/messages/${m.id}`;
  assert.equal(
    (await t.app.inject({ method: "PATCH", url, headers: bearer(bob.access), payload: { body: "hijack" } })).statusCode,
    404,
  );
  assert.equal((await t.app.inject({ method: "DELETE", url, headers: bearer(bob.access) })).statusCode, 404);
  const edited = await t.app.inject({
    method: "PATCH",
    url,
    headers: bearer(ada.access),
    payload: { body: `${secret} (edited)` },
  });
  assert.equal(edited.statusCode, 200, edited.body);
  assert.equal(edited.json().message.body, `${secret} (edited)`);
  assert.ok(edited.json().message.edited_at);
  assert.equal((await t.app.inject({ method: "DELETE", url, headers: bearer(ada.access) })).statusCode, 204);
  assert.equal((await t.app.inject({ method: "DELETE", url, headers: bearer(ada.access) })).statusCode, 404);

  const audit = rowsOf<{ event_type: string; target: string; metadata: unknown }>(
    await t.store.db.execute(
      sql`select event_type, target, metadata from audit_logs where target = ${m.id} order by id`,
    ),
  );
  assert.deepEqual(audit.map((r) => r.event_type).sort(), ["message.delete", "message.edit"]);
  const everything = JSON.stringify(rowsOf(await t.store.db.execute(sql`select * from audit_logs`)));
  assert.ok(!everything.includes("vault code"), "no message text in the audit log");
});

test("members: anyone adds to a group, anyone leaves, only the creator removes others; a direct conversation's members are fixed", async () => {
  const [ada, bob, cy, dee] = [
    await signedIn(t.app),
    await signedIn(t.app),
    await signedIn(t.app),
    await signedIn(t.app),
  ];
  const id = await conversation(t.app, ada, [bob]);
  const add = await t.app.inject({
    method: "POST",
    url: `/api/conversations/${id}/members`,
    headers: bearer(bob.access),
    payload: { user_id: cy.userId },
  });
  assert.equal(add.statusCode, 200, add.body);
  assert.equal(add.json().conversation.member_ids.length, 3);
  assert.equal(
    (
      await t.app.inject({
        method: "DELETE",
        url: `/api/conversations/${id}/members/${cy.userId}`,
        headers: bearer(bob.access),
      })
    ).statusCode,
    403,
  );
  assert.equal(
    (
      await t.app.inject({
        method: "DELETE",
        url: `/api/conversations/${id}/members/${cy.userId}`,
        headers: bearer(ada.access),
      })
    ).statusCode,
    204,
  );
  assert.equal(
    (await t.app.inject({ method: "GET", url: `/api/conversations/${id}/messages`, headers: bearer(cy.access) }))
      .statusCode,
    404,
    "a removed member reads nothing",
  );
  assert.equal(
    (
      await t.app.inject({
        method: "DELETE",
        url: `/api/conversations/${id}/members/${bob.userId}`,
        headers: bearer(bob.access),
      })
    ).statusCode,
    204,
    "bob leaves",
  );
  assert.equal(
    (
      await t.app.inject({
        method: "POST",
        url: `/api/conversations/${id}/members`,
        headers: bearer(dee.access),
        payload: { user_id: dee.userId },
      })
    ).statusCode,
    404,
    "an outsider cannot add themselves",
  );
  const direct = await conversation(t.app, ada, [dee], "direct");
  assert.equal(
    (
      await t.app.inject({
        method: "POST",
        url: `/api/conversations/${direct}/members`,
        headers: bearer(ada.access),
        payload: { user_id: cy.userId },
      })
    ).statusCode,
    400,
  );
});

test("blocking: no new direct conversation or message either way, and the blocked user's messages leave the blocker's history", async () => {
  const [ada, bob, cy] = [await signedIn(t.app), await signedIn(t.app), await signedIn(t.app)];
  const direct = await conversation(t.app, ada, [bob], "direct");
  const group = await conversation(t.app, ada, [bob, cy]);
  await send(t.app, bob, group, "before the block");
  assert.equal(
    (await t.app.inject({ method: "POST", url: `/api/users/${bob.userId}/block`, headers: bearer(ada.access) }))
      .statusCode,
    204,
  );
  for (const who of [ada, bob]) {
    const res = await t.app.inject({
      method: "POST",
      url: `/api/conversations/${direct}/messages`,
      headers: bearer(who.access),
      payload: { body: "hello?" },
    });
    assert.equal(res.statusCode, 403, "blocked both ways");
  }
  const again = await t.app.inject({
    method: "POST",
    url: "/api/conversations",
    headers: bearer(bob.access),
    payload: { type: "direct", member_ids: [ada.userId] },
  });
  assert.equal(again.statusCode, 403);
  const adaSees = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${group}/messages`,
    headers: bearer(ada.access),
  });
  assert.deepEqual(adaSees.json().messages, []);
  const cySees = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${group}/messages`,
    headers: bearer(cy.access),
  });
  assert.equal(cySees.json().messages.length, 1);
  assert.equal(
    (await t.app.inject({ method: "DELETE", url: `/api/users/${bob.userId}/block`, headers: bearer(ada.access) }))
      .statusCode,
    204,
  );
  assert.equal((await send(t.app, bob, direct, "friends again")).body, "friends again");
  assert.equal(
    (await t.app.inject({ method: "POST", url: `/api/users/${ada.userId}/block`, headers: bearer(ada.access) }))
      .statusCode,
    404,
    "not oneself",
  );
});

test("bodies are sealed at rest: the table holds keyring envelopes and no plaintext", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  const secret = `plaintext-canary-${Math.random().toString(36).slice(2)}`;
  await send(t.app, ada, id, secret);
  const rows = rowsOf<Record<string, unknown>>(
    await t.store.db.execute(sql`select * from messages where conversation_id = ${id}`),
  );
  assert.equal(rows.length, 1);
  assert.match(String(rows[0]!.body), /^bw1\.t1\./);
  const dump = JSON.stringify(
    rowsOf(
      await t.store.db.execute(sql`select m.*, c.* from messages m join conversations c on c.id = m.conversation_id`),
    ),
  );
  assert.ok(!dump.includes(secret) && !dump.includes(Buffer.from(secret).toString("base64").slice(0, 20)));
});

test("retention: prune deletes messages older than the conversation's retention_days", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const res = await t.app.inject({
    method: "POST",
    url: "/api/conversations",
    headers: bearer(ada.access),
    payload: { type: "group", member_ids: [bob.userId], retention_days: 1 },
  });
  const id = res.json().conversation.id;
  const keep = await conversation(t.app, ada, [bob]);
  await send(t.app, ada, id, "short-lived");
  await send(t.app, ada, keep, "kept");
  t.clock.advance(25 * 3_600_000);
  // A day later the access token has expired: the service is called directly, as the routes do.
  const messages = t.app.bulwark.messages;
  await messages.send(ada.userId, id, "fresh");
  const report = await t.app.bulwark.prune();
  assert.ok(report.messages! >= 1);
  const left = await messages.history(ada.userId, id, undefined, 50);
  assert.deepEqual(
    left.messages.map((m) => m.body),
    ["fresh"],
  );
  const kept = await messages.history(ada.userId, keep, undefined, 50);
  assert.equal(kept.messages.length, 1, "no global retention by default");
});
