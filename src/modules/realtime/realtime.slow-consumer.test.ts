// Threat: a client that stops reading makes the server queue every message for it until memory runs out.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { startApp, type TestApp } from "../../../test/harness.js";
import { signedIn } from "../../../test/identity.js";
import { MESSAGE_LIMITS } from "../../../test/messages.js";
import { connect, listening, ticket, until } from "../../../test/realtime.js";

const LIMIT = 256 * 1024;
let t: TestApp;
let base: string;
before(async () => {
  t = await startApp({ env: { ...MESSAGE_LIMITS, REALTIME_MAX_BUFFERED_BYTES: String(LIMIT) } });
  base = await listening(t.app);
});
after(() => t.close());

test("slow consumer: a socket that stops reading is dropped once its backlog passes the bound; the server never holds more", async () => {
  const [reader, stalled] = [await signedIn(t.app), await signedIn(t.app)];
  const good = await connect(base, await ticket(t.app, reader));
  const slow = await connect(base, await ticket(t.app, stalled));
  // The client stops reading: the kernel buffers fill, then the server's send buffer grows.
  (slow.ws as unknown as { _socket: Socket })._socket.pause();
  const realtime = t.app.bulwark.realtime;
  const frame = JSON.stringify({ type: "message.created", message: { body: "x".repeat(16 * 1024) } });
  const droppedBefore = realtime.dropped();
  let peak = 0;
  let sent = 0;
  while (realtime.count(stalled.userId) > 0) {
    realtime.deliverLocal([stalled.userId, reader.userId], frame);
    sent++;
    peak = Math.max(peak, realtime.bufferedBytes(stalled.userId));
    assert.ok(peak <= LIMIT, `the backlog stays within REALTIME_MAX_BUFFERED_BYTES (${peak})`);
    // Let the sockets drain what they can, as a live server would between messages.
    if (sent % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    assert.ok(sent < 100_000, "the stalled socket was never dropped");
  }
  assert.equal(realtime.dropped(), droppedBefore + 1);
  assert.ok(peak > 0);
  // The reading client got everything and is still connected.
  await until(() => realtime.bufferedBytes(reader.userId) === 0);
  good.send({ type: "ping", ref: "alive" });
  assert.equal((await good.next((f) => f.type === "pong")).ref, "alive");
  good.close();
});
