// Threat: a shutdown (deploy, SIGTERM) that hangs on open WebSockets, or drops them without telling clients to reconnect.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { signedIn } from "../../../test/identity.js";
import { MESSAGE_LIMITS } from "../../../test/messages.js";
import { connect, listening, ticket } from "../../../test/realtime.js";

test("closing the app closes open sockets with 1001 and finishes", async () => {
  const t = await startApp({ env: MESSAGE_LIMITS });
  const base = await listening(t.app);
  const ws = await connect(base, await ticket(t.app, await signedIn(t.app)));
  await t.close();
  assert.equal((await ws.closed).code, 1001);
});
