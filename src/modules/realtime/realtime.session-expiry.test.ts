// Attack: a socket outlives the session that opened it — past the session's absolute lifetime
// (REFRESH_TOKEN_TTL), when no token of it works any more, the socket keeps receiving and sending.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { conversation, MESSAGE_LIMITS, send } from "../../../test/messages.js";
import { connect, listening, ticket } from "../../../test/realtime.js";

const TTL_SECONDS = 600;
let t: TestApp;
let base: string;
before(async () => {
  t = await startApp({
    env: { ...MESSAGE_LIMITS, REFRESH_TOKEN_TTL: String(TTL_SECONDS), REALTIME_HEARTBEAT_SECONDS: "5" },
  });
  base = await listening(t.app);
});
after(() => t.close());

test("a socket whose session reached its absolute expiry is closed with 1008 on its next frame", async () => {
  const ada = await signedIn(t.app);
  const bob = await signedIn(t.app);
  const id = await conversation(t.app, ada, [bob]);
  const socket = await connect(base, await ticket(t.app, ada));
  socket.send({ type: "ping", ref: "before" });
  assert.equal((await socket.next((f) => f.type === "pong")).ref, "before");
  t.clock.advance(TTL_SECONDS * 1000 - 1_000);
  socket.send({ type: "ping", ref: "almost" });
  assert.equal((await socket.next((f) => f.type === "pong")).ref, "almost", "alive until the session's end");

  t.clock.advance(1_000);
  socket.send({ type: "message.send", conversation_id: id, body: "after the session ended" });
  const closed = await socket.closed;
  assert.equal(closed.code, 1008);
  assert.equal(closed.reason, "session expired");
  const messages = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${id}/messages`,
    headers: bearer(bob.access),
  });
  assert.equal(messages.json().messages.length, 0, "the frame sent past the end was not handled");
});

test("a message sent after the session's end never reaches its socket, which is closed", async () => {
  const ada = await signedIn(t.app);
  const bob = await signedIn(t.app);
  const id = await conversation(t.app, ada, [bob]);
  const socket = await connect(base, await ticket(t.app, ada));
  t.clock.advance(TTL_SECONDS * 1000);
  // Bob signs in again: his new session is fresh, ada's has ended.
  const again = await t.app.inject({
    method: "POST",
    url: "/api/auth/login",
    payload: { login: bob.username, password: bob.password },
  });
  await send(t.app, { ...bob, access: again.json().access_token as string }, id, "after ada's session ended");
  const closed = await socket.closed;
  assert.equal(closed.code, 1008);
  assert.equal(closed.reason, "session expired");
  await assert.rejects(
    Promise.race([socket.next((f) => f.type === "message.created"), Promise.reject(new Error("none"))]),
    /none/,
    "no message frame arrived before the close",
  );
});

test("an idle socket is closed by the heartbeat once its session reached its end", async () => {
  const ada = await signedIn(t.app);
  const socket = await connect(base, await ticket(t.app, ada));
  t.clock.advance(TTL_SECONDS * 1000);
  const closed = await socket.closed;
  assert.equal(closed.code, 1008);
  assert.equal(closed.reason, "session expired");
});
