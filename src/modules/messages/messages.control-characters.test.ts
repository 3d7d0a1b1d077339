// Attack: NUL, a lone CR, ESC sequences, bidi overrides and other control or format characters in a
// message body — to break storage, forge lines in a reader's terminal or disguise text — while the
// line breaks and tabs a person types (LF, CRLF, TAB) must still get through, over REST and WebSocket.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { conversation, MESSAGE_LIMITS, send } from "../../../test/messages.js";
import { connect, listening, ticket } from "../../../test/realtime.js";

let t: TestApp;
before(async () => {
  t = await startApp({ env: MESSAGE_LIMITS });
});
after(() => t.close());

const TYPED = ["first line\nsecond line", "windows\r\nline", "name\tqty\n\ttabbed", "para\n\n\nlast\n"];
const HOSTILE = [
  "a\u0000b",
  "a\rb",
  "a\r",
  "a\u001b[31mred",
  "a\u0007bell",
  "a\u0008b",
  "a\u007fb",
  "a\u0085b",
  "a\u000bb",
  "a\u000cb",
  "a\u202eb",
  "a\u200bb",
];

test("a message body keeps LF, CRLF and TAB, over REST (send and edit) and WebSocket", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  for (const body of TYPED) assert.equal((await send(t.app, ada, id, body)).body, body);
  const first = await send(t.app, ada, id, "draft");
  const edited = await t.app.inject({
    method: "PATCH",
    url: `/api/conversations/${id}/messages/${first.id}`,
    headers: bearer(ada.access),
    payload: { body: "edited\r\nwith a break" },
  });
  assert.equal(edited.statusCode, 200, edited.body);
  assert.equal(edited.json().message.body, "edited\r\nwith a break");
  const history = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${id}/messages`,
    headers: bearer(bob.access),
  });
  assert.deepEqual(
    history
      .json()
      .messages.map((m: { body: string }) => m.body)
      .slice(1)
      .reverse(),
    TYPED,
    "stored and read back unchanged",
  );

  const base = await listening(t.app);
  const socket = await connect(base, await ticket(t.app, ada));
  try {
    socket.send({ type: "message.send", conversation_id: id, body: "over\nthe socket", ref: "ok" });
    assert.equal((await socket.next((f) => f.type === "message.sent" || f.type === "error")).type, "message.sent");
    socket.send({ type: "message.send", conversation_id: id, body: "a\u0000b", ref: "nul" });
    const refused = await socket.next((f) => f.type === "message.sent" || f.type === "error");
    assert.equal(refused.type, "error");
    assert.equal(refused.code, "invalid_request");
  } finally {
    socket.close();
  }
});

test("NUL, a lone CR and every other control or format character are refused with 400, and nothing is stored", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  const kept = await send(t.app, ada, id, "kept");
  for (const body of HOSTILE) {
    const sent = await t.app.inject({
      method: "POST",
      url: `/api/conversations/${id}/messages`,
      headers: bearer(ada.access),
      payload: { body },
    });
    assert.equal(sent.statusCode, 400, `${JSON.stringify(body)}: ${sent.body}`);
    assert.equal(sent.json().error.code, "invalid_request");
    const edit = await t.app.inject({
      method: "PATCH",
      url: `/api/conversations/${id}/messages/${kept.id}`,
      headers: bearer(ada.access),
      payload: { body },
    });
    assert.equal(edit.statusCode, 400, JSON.stringify(body));
  }
  const history = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${id}/messages`,
    headers: bearer(ada.access),
  });
  assert.deepEqual(
    history.json().messages.map((m: { body: string }) => m.body),
    ["kept"],
  );
});
