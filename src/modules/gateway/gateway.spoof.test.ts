// Attack: a client sends its own X-Bulwark-User / X-Bulwark-Role (or a signature copied from an
// earlier request) hoping the upstream believes it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { bearer, signedIn } from "../../../test/identity.js";
import { startGateway, startUpstream, type Upstream } from "../../../test/gateway.js";
import type { TestApp } from "../../../test/harness.js";

let upstream: Upstream;
let t: TestApp & { base: string; secret: string };
before(async () => {
  upstream = await startUpstream();
  t = await startGateway(upstream);
});
after(async () => {
  await t.close();
  await upstream.close();
});

const SPOOFED = {
  "x-bulwark-user": "admin-user-id",
  "x-bulwark-role": "admin",
  "x-bulwark-scopes": "admin",
  "x-bulwark-key": "k1",
  "x-bulwark-timestamp": "9999999999",
  "x-bulwark-signature": "v1=00",
  "x-bulwark-identity": "eyJ.forged.token",
  "x-bulwark-other": "1",
};

test("spoofed X-Bulwark-* headers of an anonymous client never reach the upstream", async () => {
  const res = await fetch(`${t.base}/public/x`, { headers: SPOOFED });
  assert.equal(res.status, 200);
  const h = upstream.seen.at(-1)!.headers;
  assert.equal(h["x-bulwark-user"], "");
  assert.equal(h["x-bulwark-role"], "");
  assert.equal(h["x-bulwark-scopes"], "");
  assert.equal(h["x-bulwark-key"], "");
  assert.equal(h["x-bulwark-identity"], undefined);
  assert.equal(h["x-bulwark-other"], undefined);
  assert.notEqual(h["x-bulwark-signature"], "v1=00");
  assert.notEqual(h["x-bulwark-timestamp"], "9999999999");
});

test("spoofed X-Bulwark-* headers of a signed-in user are replaced by the user's own identity", async () => {
  const user = await signedIn(t.app);
  const res = await fetch(`${t.base}/app/x`, {
    headers: { ...SPOOFED, ...bearer(user.access), "X-Bulwark-User": "someone-else" },
  });
  assert.equal(res.status, 200);
  const h = upstream.seen.at(-1)!.headers;
  assert.equal(h["x-bulwark-user"], user.userId);
  assert.equal(h["x-bulwark-role"], "user");
  assert.equal(h["x-bulwark-other"], undefined);
});

test("a Connection header cannot make the gateway drop its own identity headers", async () => {
  const res = await fetch(`${t.base}/public/x`, {
    headers: { connection: "x-bulwark-signature, x-bulwark-user" },
  }).catch(() => undefined);
  if (res) {
    assert.equal(res.status, 200);
    const h = upstream.seen.at(-1)!.headers;
    assert.match(h["x-bulwark-signature"] as string, /^v1=[0-9a-f]{64}$/);
    assert.equal(h["x-bulwark-user"], "");
  }
});
