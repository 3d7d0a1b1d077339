// Threat: one client exhausts the server through its WebSockets — huge frames, a flood of frames, or many sockets.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { conversation, MESSAGE_LIMITS } from "../../../test/messages.js";
import { connect, listening, refused, ticket, until } from "../../../test/realtime.js";

let t: TestApp;
let base: string;
before(async () => {
  t = await startApp({
    env: {
      ...MESSAGE_LIMITS,
      REALTIME_MESSAGES_PER_MINUTE: "5",
      REALTIME_MAX_CONNECTIONS_PER_USER: "2",
      REALTIME_MAX_CONNECTIONS_PER_IP: "4",
    },
  });
  base = await listening(t.app);
});
after(() => t.close());

test("oversized frame: a frame over 64 KiB closes the socket with 1009 and is never processed", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  const ws = await connect(base, await ticket(t.app, ada));
  ws.send({ type: "message.send", conversation_id: id, body: "x".repeat(64 * 1024) });
  assert.equal((await ws.closed).code, 1009);
  const history = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${id}/messages`,
    headers: bearer(ada.access),
  });
  assert.deepEqual(history.json().messages, []);
});

test("message flood: past REALTIME_MESSAGES_PER_MINUTE frames get rate_limited, past twice it the socket is closed with 1008", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  const ws = await connect(base, await ticket(t.app, ada));
  for (let i = 0; i < 20; i++)
    ws.send({ type: "message.send", conversation_id: id, body: `flood ${i}`, ref: String(i) });
  // Refused before the frame is even parsed: the error carries no ref.
  const limited = await ws.next((f) => f.type === "error");
  assert.equal(limited.code, "rate_limited");
  const closed = await ws.closed;
  assert.equal(closed.code, 1008);
  const history = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${id}/messages?limit=100`,
    headers: bearer(ada.access),
  });
  assert.equal(history.json().messages.length, 5, "only the allowed frames were stored");
});

test("the send budget is per user: a second socket does not double it", async () => {
  const [ada, bob] = [await signedIn(t.app), await signedIn(t.app)];
  const id = await conversation(t.app, ada, [bob]);
  const one = await connect(base, await ticket(t.app, ada));
  const two = await connect(base, await ticket(t.app, ada));
  for (let i = 0; i < 3; i++) one.send({ type: "message.send", conversation_id: id, body: `a${i}`, ref: `a${i}` });
  for (let i = 0; i < 3; i++) await one.next((f) => f.type === "message.sent");
  for (let i = 0; i < 3; i++) two.send({ type: "message.send", conversation_id: id, body: `b${i}`, ref: `b${i}` });
  assert.equal((await two.next((f) => f.type === "error")).code, "rate_limited");
  one.close();
  two.close();
});

test("connection cap: past REALTIME_MAX_CONNECTIONS_PER_USER (and per IP) the upgrade is 429; closing one frees a slot", async () => {
  const ada = await signedIn(t.app);
  const first = await connect(base, await ticket(t.app, ada));
  const second = await connect(base, await ticket(t.app, ada));
  const third = await refused(connect(base, await ticket(t.app, ada)));
  assert.equal(third.status, 429);
  assert.equal(JSON.parse(third.body).error.code, "rate_limited");
  first.close();
  await until(() => t.app.bulwark.realtime.count(ada.userId) === 1);
  const again = await connect(base, await ticket(t.app, ada));
  again.close();
  second.close();

  // Per IP: four sockets of different users from one address, the fifth refused.
  const users = [
    await signedIn(t.app),
    await signedIn(t.app),
    await signedIn(t.app),
    await signedIn(t.app),
    await signedIn(t.app),
  ];
  const open = [];
  for (const u of users.slice(0, 4)) open.push(await connect(base, await ticket(t.app, u)));
  assert.equal((await refused(connect(base, await ticket(t.app, users[4]!)))).status, 429);
  for (const c of open) c.close();
});
