// Threat: cross-site WebSocket hijacking — a page on another origin opens the socket in the victim's browser.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { signedIn } from "../../../test/identity.js";
import { MESSAGE_LIMITS } from "../../../test/messages.js";
import { connect, listening, refused, ticket } from "../../../test/realtime.js";

let t: TestApp;
let base: string;
before(async () => {
  t = await startApp({ env: { ...MESSAGE_LIMITS, CORS_ORIGINS: "https://app.example.com" } });
  base = await listening(t.app);
});
after(() => t.close());

test("bad Origin: an origin outside CORS_ORIGINS, `null`, or none at all is refused with 403 before the upgrade", async () => {
  const ada = await signedIn(t.app);
  for (const origin of [
    "https://evil.example",
    "https://app.example.com.evil.example",
    "null",
    "http://app.example.com",
    null,
  ]) {
    const res = await refused(connect(base, await ticket(t.app, ada), { origin }));
    assert.equal(res.status, 403, String(origin));
    assert.equal(JSON.parse(res.body).error.code, "forbidden");
  }
  const ws = await connect(base, await ticket(t.app, ada), { origin: "https://app.example.com" });
  ws.close();
});
