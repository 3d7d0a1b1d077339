// Threat: guessing or mistyping keys to make the server do database work (or learn anything) per attempt.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Store } from "../../store/db.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn, stepUp } from "../../../test/identity.js";
import { checksum } from "./format.js";

let t: TestApp;
before(async () => {
  t = await startApp({ env: { RATE_LIMIT_PER_MINUTE: "1000", SENSITIVE_PER_MINUTE: "1000" } });
});
after(() => t.close());

/** Counts the queries the app sends to its database from now on (whichever driver it runs on). */
function countQueries(store: Store): { count(): number; stop(): void } {
  let n = 0;
  const target = (store.driver.kind === "pglite" ? store.driver.client : store.driver.pool) as unknown as Record<
    string,
    (...args: unknown[]) => unknown
  >;
  const names = store.driver.kind === "pglite" ? ["query", "exec", "transaction"] : ["query", "connect"];
  const originals = names.map((name) => [name, target[name]!] as const);
  for (const [name, fn] of originals) {
    target[name] = function (this: unknown, ...args: unknown[]) {
      n++;
      return fn.apply(this, args);
    };
  }
  return {
    count: () => n,
    stop: () => {
      for (const [name, fn] of originals) target[name] = fn;
    },
  };
}

test("a key with a flipped character or a bad checksum is refused without a database query", async () => {
  const user = await signedIn(t.app);
  await stepUp(t.app, user);
  const res = await t.app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(user.access),
    payload: { name: "k", scopes: [] },
  });
  const { key } = res.json() as { key: string };
  // Never used: not in the cache, so any look-up would have to query.
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "a" ? "b" : "a") + s.slice(i + 1);
  const candidates = [
    flip(key, 50), // in the secret
    flip(key, 10), // in the id
    flip(key, key.length - 1), // in the checksum
    key.slice(0, -1), // truncated
    `${key}x`,
    "bwk_short",
    "bwk_" + "0".repeat(32) + "_" + "A".repeat(5000),
  ];
  const counter = countQueries(t.store);
  try {
    for (const candidate of candidates) {
      for (const headers of [bearer(candidate), { "x-api-key": candidate }]) {
        const refused = await t.app.inject({ method: "GET", url: "/api/whoami", headers });
        assert.equal(refused.statusCode, 401);
        assert.equal(refused.json().error.code, "unauthorized");
        assert.ok(!refused.body.includes(candidate.slice(0, 40)), "the key is not echoed");
      }
    }
    assert.equal(counter.count(), 0, "no query for a malformed key");
    // Control: a well-formed key with a valid checksum but an unknown id is looked up (so the counter works).
    const body = `bwk_${"0".repeat(32)}_${"A".repeat(40)}`;
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/whoami", headers: { "x-api-key": body + checksum(body) } }))
        .statusCode,
      401,
    );
    assert.ok(counter.count() > 0, "a well-formed key is looked up");
  } finally {
    counter.stop();
  }
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/whoami", headers: { "x-api-key": key } })).statusCode,
    200,
    "the real key still works",
  );
});

test("a flood of one made-up well-formed key costs one database look-up, not one per request", async () => {
  const body = `bwk_${"1".repeat(32)}_${"B".repeat(40)}`;
  const made = body + checksum(body);
  const whoami = () => t.app.inject({ method: "GET", url: "/api/whoami", headers: { "x-api-key": made } });
  const counter = countQueries(t.store);
  let lookup: number;
  try {
    assert.equal((await whoami()).statusCode, 401);
    // One look-up: a query (and on PostgreSQL the pool's connect that carries it).
    lookup = counter.count();
    assert.ok(lookup > 0, "the first sight of the id is looked up");
    for (let i = 0; i < 24; i++) assert.equal((await whoami()).statusCode, 401);
    assert.equal(counter.count(), lookup, "the miss is remembered: no further query");
  } finally {
    counter.stop();
  }
  // The memory is short: after it ends the id is looked up again (a key could have been created since).
  t.clock.advance(31_000);
  const later = countQueries(t.store);
  try {
    assert.equal((await whoami()).statusCode, 401);
    assert.equal(later.count(), lookup);
  } finally {
    later.stop();
  }
});
