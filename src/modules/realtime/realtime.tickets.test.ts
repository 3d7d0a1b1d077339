// Threat: a WebSocket ticket that leaks (a log, a proxy, a shoulder) is replayed, used late, or used from another machine.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn, stepUp } from "../../../test/identity.js";
import { MESSAGE_LIMITS } from "../../../test/messages.js";
import { connect, listening, refused, ticket } from "../../../test/realtime.js";

let t: TestApp;
let base: string;
before(async () => {
  t = await startApp({ env: MESSAGE_LIMITS });
  base = await listening(t.app);
});
after(() => t.close());

test("ticket replay: a ticket opens one socket; the second upgrade with it is 401", async () => {
  const ada = await signedIn(t.app);
  const value = await ticket(t.app, ada);
  const ws = await connect(base, value);
  const replay = await refused(connect(base, value));
  assert.equal(replay.status, 401);
  assert.equal(JSON.parse(replay.body).error.code, "unauthorized");
  ws.close();
});

test("expired ticket: 30 seconds after it was issued it opens nothing", async () => {
  const ada = await signedIn(t.app);
  const value = await ticket(t.app, ada);
  t.clock.advance(30_001);
  assert.equal((await refused(connect(base, value))).status, 401);
});

test("ticket from another IP: a ticket issued to one address is refused from another", async () => {
  const ada = await signedIn(t.app);
  const value = await ticket(t.app, ada, "203.0.113.7");
  assert.equal((await refused(connect(base, value))).status, 401);
});

test("unknown tickets and access tokens in the URL are refused; API keys cannot buy tickets", async () => {
  const ada = await signedIn(t.app);
  assert.equal((await refused(connect(base, "A".repeat(43)))).status, 401);
  assert.equal(
    (await refused(connect(base, ada.access))).status,
    400,
    "an access token is not even a well-formed ticket",
  );
  await stepUp(t.app, ada);
  const key = await t.app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(ada.access),
    payload: { name: "bot", scopes: ["files:read"] },
  });
  assert.equal(key.statusCode, 201, key.body);
  const res = await t.app.inject({
    method: "POST",
    url: "/api/realtime/ticket",
    headers: { "x-api-key": key.json().key },
  });
  assert.ok(res.statusCode === 403 || res.statusCode === 401, res.body);
});

test("a ticket of a session that ended before the upgrade opens nothing", async () => {
  const ada = await signedIn(t.app);
  const value = await ticket(t.app, ada);
  assert.equal(
    (await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: bearer(ada.access) })).statusCode,
    204,
  );
  assert.equal((await refused(connect(base, value))).status, 401);
});
