// The realtime contract: tickets, frames both ways, the same service as REST, nothing secret in logs.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { captureLog, startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { conversation, MESSAGE_LIMITS, send } from "../../../test/messages.js";
import { connect, listening, ticket } from "../../../test/realtime.js";

let t: TestApp;
let base: string;
const log = captureLog();
before(async () => {
  t = await startApp({ env: MESSAGE_LIMITS, log: log.stream, logLevel: "debug" });
  base = await listening(t.app);
});
after(() => t.close());

test("a ticket is 256 bits, lasts 30 s, and needs a signed-in session", async () => {
  const ada = await signedIn(t.app);
  const res = await t.app.inject({ method: "POST", url: "/api/realtime/ticket", headers: bearer(ada.access) });
  assert.equal(res.statusCode, 201, res.body);
  assert.deepEqual(Object.keys(res.json()).sort(), ["expires_in", "ticket"]);
  assert.equal(res.json().expires_in, 30);
  assert.equal(Buffer.from(res.json().ticket, "base64url").length, 32);
  assert.equal((await t.app.inject({ method: "POST", url: "/api/realtime/ticket" })).statusCode, 401);
});

test("members hear message.created, .updated and .deleted live; a message sent on the socket is stored like one sent over REST", async () => {
  const [ada, bob, eve] = [await signedIn(t.app), await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  const bobWs = await connect(base, await ticket(t.app, bob));
  const eveWs = await connect(base, await ticket(t.app, eve));
  try {
    const m = await send(t.app, ada, id, "over REST");
    const created = await bobWs.next((f) => f.type === "message.created");
    assert.deepEqual(created.message, m);

    await t.app.inject({
      method: "PATCH",
      url: `/api/conversations/${id}/messages/${m.id}`,
      headers: bearer(ada.access),
      payload: { body: "edited" },
    });
    assert.equal(((await bobWs.next((f) => f.type === "message.updated")).message as { body: string }).body, "edited");
    await t.app.inject({
      method: "DELETE",
      url: `/api/conversations/${id}/messages/${m.id}`,
      headers: bearer(ada.access),
    });
    assert.deepEqual((await bobWs.next((f) => f.type === "message.deleted")).message, {
      id: m.id,
      conversation_id: id,
    });

    bobWs.send({ type: "message.send", conversation_id: id, body: "over the socket", ref: "r1" });
    const sent = await bobWs.next((f) => f.type === "message.sent");
    assert.equal(sent.ref, "r1");
    const history = await t.app.inject({
      method: "GET",
      url: `/api/conversations/${id}/messages`,
      headers: bearer(ada.access),
    });
    assert.equal(history.json().messages[0].body, "over the socket");
    assert.equal(history.json().messages[0].id, sent.message_id);

    // The same validation as REST, and the same 404 for a conversation one is not in.
    bobWs.send({ type: "message.send", conversation_id: id, body: "a\u0000b", ref: "bad" });
    assert.equal((await bobWs.next((f) => f.type === "error" && f.ref === "bad")).code, "invalid_request");
    eveWs.send({ type: "message.send", conversation_id: id, body: "intrusion", ref: "x" });
    assert.equal((await eveWs.next((f) => f.type === "error" && f.ref === "x")).code, "not_found");
    for (const junk of [
      "not json",
      "[]",
      JSON.stringify({ type: "message.send", conversation_id: id, body: "hi", admin: true, ref: "j" }),
      JSON.stringify({ type: "nope", ref: "j2" }),
    ]) {
      bobWs.send(junk);
      assert.equal((await bobWs.next((f) => f.type === "error")).code, "invalid_request", junk);
    }
    bobWs.send({ type: "ping", ref: "p" });
    assert.equal((await bobWs.next((f) => f.type === "pong")).ref, "p");
    // Eve heard nothing of a conversation she is not in.
    eveWs.send({ type: "ping", ref: "end" });
    assert.deepEqual(await eveWs.next(), { type: "pong", ref: "end" });
  } finally {
    bobWs.close();
    eveWs.close();
  }
});

test("a blocked author's messages are not delivered live to the blocker", async () => {
  const [ada, bob, cy] = [await signedIn(t.app), await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob, cy]);
  await t.app.inject({ method: "POST", url: `/api/users/${bob.userId}/block`, headers: bearer(ada.access) });
  const adaWs = await connect(base, await ticket(t.app, ada));
  const cyWs = await connect(base, await ticket(t.app, cy));
  try {
    await send(t.app, bob, id, "from bob");
    await cyWs.next((f) => f.type === "message.created");
    await send(t.app, cy, id, "from cy");
    assert.equal(
      ((await adaWs.next((f) => f.type === "message.created")).message as { body: string }).body,
      "from cy",
      "bob's message never came first",
    );
  } finally {
    adaWs.close();
    cyWs.close();
  }
});

test("the ticket and message bodies never reach the log", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  const value = await ticket(t.app, ada);
  const ws = await connect(base, value);
  ws.send({ type: "message.send", conversation_id: id, body: "canary-body-7731" });
  await ws.next((f) => f.type === "message.created");
  ws.close();
  await ws.closed;
  await send(t.app, ada, id, "canary-body-7732");
  await log.waitFor(/websocket closed/);
  assert.ok(!log.text().includes(value), "ticket not logged");
  assert.ok(!log.text().includes("canary-body"), "bodies not logged");
});
