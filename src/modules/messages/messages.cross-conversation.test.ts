// Threat: a user reads, writes or edits messages of a conversation they are not a member of (by guessing or leaking its id).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { conversation, MESSAGE_LIMITS, send } from "../../../test/messages.js";

let t: TestApp;
before(async () => {
  t = await startApp({ env: MESSAGE_LIMITS });
});
after(() => t.close());

test("a non-member gets the 404 of a conversation that does not exist, for every route, and changes nothing", async () => {
  const [ada, bob, eve] = [await signedIn(t.app), await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  const m = await send(t.app, ada, id, "for members only");
  const absent = "0".repeat(32);
  const probes = (conv: string) => [
    { method: "GET" as const, url: `/api/conversations/${conv}/messages` },
    { method: "POST" as const, url: `/api/conversations/${conv}/messages`, payload: { body: "let me in" } },
    { method: "PATCH" as const, url: `/api/conversations/${conv}/messages/${m.id}`, payload: { body: "rewritten" } },
    { method: "DELETE" as const, url: `/api/conversations/${conv}/messages/${m.id}` },
    { method: "POST" as const, url: `/api/conversations/${conv}/members`, payload: { user_id: eve.userId } },
    { method: "DELETE" as const, url: `/api/conversations/${conv}/members/${ada.userId}` },
  ];
  for (const probe of probes(id)) {
    const res = await t.app.inject({ ...probe, headers: bearer(eve.access) });
    const ghost = await t.app.inject({ ...probe, url: probe.url.replace(id, absent), headers: bearer(eve.access) });
    assert.equal(res.statusCode, 404, `${probe.method} ${probe.url}`);
    assert.deepEqual(
      { ...res.json().error, request_id: "" },
      { ...ghost.json().error, request_id: "" },
      "the same answer as for a conversation that does not exist",
    );
    assert.ok(!res.body.includes("for members only"));
  }
  const list = await t.app.inject({ method: "GET", url: "/api/conversations", headers: bearer(eve.access) });
  assert.deepEqual(list.json().conversations, []);
  const history = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${id}/messages`,
    headers: bearer(bob.access),
  });
  assert.deepEqual(
    history.json().messages.map((x: { body: string }) => x.body),
    ["for members only"],
    "nothing changed",
  );
  assert.deepEqual(
    (await t.app.bulwark.messages.listConversations(ada.userId, undefined, 10)).conversations[0]!.member_ids,
    [ada.userId, bob.userId].sort(),
  );
});

test("a member of one conversation cannot reach a message of another through their own conversation's URL", async () => {
  const [ada, bob, eve] = [await signedIn(t.app), await signedIn(t.app), await signedIn(t.app)];
  const secret = await conversation(t.app, ada, [bob]);
  const m = await send(t.app, ada, secret, "private");
  const own = await conversation(t.app, eve, [ada]);
  // Eve is a member of `own`, and names the other conversation's message under it.
  for (const method of ["PATCH", "DELETE"] as const) {
    const res = await t.app.inject({
      method,
      url: `/api/conversations/${own}/messages/${m.id}`,
      headers: bearer(ada.access),
      ...(method === "PATCH" ? { payload: { body: "moved" } } : {}),
    });
    assert.equal(res.statusCode, 404, `${method}: a message is addressed only under its own conversation`);
  }
  const history = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${own}/messages`,
    headers: bearer(eve.access),
  });
  assert.deepEqual(history.json().messages, []);
  assert.equal((await t.app.bulwark.messages.history(bob.userId, secret, undefined, 10)).messages[0]!.body, "private");
});
