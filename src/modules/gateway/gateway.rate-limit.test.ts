// Attack: a user or an API key floods the backend through the gateway; each is held to its own budget.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { bearer, signedIn, stepUp } from "../../../test/identity.js";
import { startGateway, startUpstream, type Upstream } from "../../../test/gateway.js";
import type { TestApp } from "../../../test/harness.js";

let upstream: Upstream;
let t: TestApp & { base: string; secret: string };
before(async () => {
  upstream = await startUpstream();
  t = await startGateway(upstream, { env: { RATE_LIMIT_PER_MINUTE: "3" } });
});
after(async () => {
  await t.close();
  await upstream.close();
});

test("a user's budget is counted through the proxy: past it 429 with the envelope, another user unaffected", async () => {
  // Signing up counts against the client IP's budget too: a fresh window after each.
  const alice = await signedIn(t.app);
  t.clock.advance(61_000);
  const bob = await signedIn(t.app);
  t.clock.advance(61_000);
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await fetch(`${t.base}/app/x`, { headers: bearer(alice.access) })).status);
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  const refused = await fetch(`${t.base}/app/x`, { headers: bearer(alice.access) });
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "rate_limited");
  assert.ok(refused.headers.get("retry-after"));
  assert.equal((await fetch(`${t.base}/app/x`, { headers: bearer(bob.access) })).status, 200);
});

test("an API key with its own limit is held to it through the proxy", async () => {
  t.clock.advance(61_000);
  const owner = await signedIn(t.app);
  await stepUp(t.app, owner);
  const created = await t.app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(owner.access),
    payload: { name: "ci", scopes: ["reports:read"], rate_limit_per_minute: 2 },
  });
  assert.equal(created.statusCode, 201, created.body);
  t.clock.advance(61_000);
  const key = (created.json() as { key: string }).key;
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++)
    statuses.push((await fetch(`${t.base}/reports/x`, { headers: { "x-api-key": key } })).status);
  assert.deepEqual(statuses, [200, 200, 429]);
  // Budgets do not multiply: the key's calls were counted against its owner's budget (3 a minute) too.
  assert.equal((await fetch(`${t.base}/app/x`, { headers: bearer(owner.access) })).status, 429);
  t.clock.advance(61_000);
  assert.equal((await fetch(`${t.base}/app/x`, { headers: bearer(owner.access) })).status, 200);
});
