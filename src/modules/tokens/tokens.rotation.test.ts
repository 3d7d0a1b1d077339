// Attack: a leaked or retired signing key keeps minting or verifying tokens — rotation must retire keys on time, and revocation must stop a key at once on every instance.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { decodeProtectedHeader } from "jose";
import { needs, testAudit, testStore, TEST_REDIS_URL } from "../../../test/harness.js";
import { createFakeClock } from "../../core/clock.js";
import { generateKeyringEntry, parseKeyring, randomToken, type Keyring } from "../../core/crypto/index.js";
import { AppError } from "../../core/errors.js";
import type { Store } from "../../store/db.js";
import { createPubSub, type PubSub } from "../../store/pubsub.js";
import { createTokenService, type TokenService } from "./index.js";

const PUBLIC_URL = "https://id.example.test";
const TTL = 900;

let store: Store;
let keyring: Keyring;
let clock: ReturnType<typeof createFakeClock>;
const cleanups: (() => unknown)[] = [];

before(async () => {
  store = await testStore();
  keyring = parseKeyring(generateKeyringEntry("t1"));
  clock = createFakeClock(Date.UTC(2026, 0, 1, 12));
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await store.close();
});

/** A started service over the shared test database; its own in-memory pub/sub unless one is given. */
async function instance(pubsub: PubSub = createPubSub({})): Promise<TokenService> {
  const tokens = createTokenService({
    db: store.db,
    audit: testAudit(store.db, clock),
    keyring,
    clock,
    pubsub,
    publicUrl: PUBLIC_URL,
    accessTokenTtl: TTL,
    reloadIntervalMs: 0,
  });
  await tokens.init();
  cleanups.push(() => tokens.close());
  return tokens;
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid!;
const kids = (tokens: TokenService) => tokens.jwks().keys.map((k) => k.kid);

async function assertRefused(tokens: TokenService, token: string): Promise<void> {
  await assert.rejects(
    tokens.verify(token),
    (error: unknown) => error instanceof AppError && error.code === "unauthorized",
  );
}

test("rotation: old tokens keep working until they expire, both keys are published, then the old key leaves the JWKS", async () => {
  const a = await instance();
  const old = await a.issue({ sub: "u1", sid: "s1" });
  const oldKid = kidOf(old.token);
  await a.verify(old.token); // cached

  clock.advance(60_000);
  const rotatedAt = clock.now();
  const { kid: newKid } = await a.rotate();
  assert.notEqual(newKid, oldKid);
  const fresh = await a.issue({ sub: "u2", sid: "s2" });
  assert.equal(kidOf(fresh.token), newKid);
  assert.deepEqual(kids(a), [newKid, oldKid], "the active key first, the retired one still published");
  assert.equal((await a.verify(old.token)).sub, "u1");
  assert.equal((await a.verify(fresh.token)).sub, "u2");

  const listed = await a.list();
  const retired = listed.find((k) => k.kid === oldKid)!;
  assert.equal(retired.active, false);
  assert.equal(retired.retired_at?.getTime(), rotatedAt);
  assert.equal(retired.publish_until?.getTime(), rotatedAt + TTL * 1000);
  assert.equal(listed.find((k) => k.kid === newKid)!.active, true);

  // Just before publish_until the old key is still there; the old token has expired already.
  clock.set(rotatedAt + TTL * 1000 - 1);
  assert.deepEqual(kids(a), [newKid, oldKid]);
  await assertRefused(a, old.token);
  clock.set(rotatedAt + TTL * 1000);
  assert.deepEqual(kids(a), [newKid]);
  // A new instance starting now does not load or publish it either.
  const b = await instance();
  assert.deepEqual(kids(b), [newKid]);
  assert.equal((await b.verify((await a.issue({ sub: "u3", sid: "s3" })).token)).sub, "u3");
});

test("revoke drops a retired key at once, even for cached tokens, and it never comes back", async () => {
  const a = await instance();
  const old = await a.issue({ sub: "u1", sid: "s1" });
  const oldKid = kidOf(old.token);
  await a.verify(old.token); // cached
  await a.rotate();
  assert.equal((await a.verify(old.token)).sub, "u1");

  await a.revoke(oldKid);
  await assertRefused(a, old.token);
  assert.equal(kids(a).includes(oldKid), false);
  const row = (await a.list()).find((k) => k.kid === oldKid)!;
  assert.equal(row.revoked_at?.getTime(), clock.now());
  // A fresh instance never loads it.
  const b = await instance();
  assert.equal(kids(b).includes(oldKid), false);
  await assertRefused(b, old.token);
  // Revoking twice is harmless; an unknown kid is not_found.
  await a.revoke(oldKid);
  await assert.rejects(a.revoke("no-such-kid"), { code: "not_found" });
});

test("revoking the active key rotates first: signing never stops and the revoked kid is gone", async () => {
  const a = await instance();
  const before = await a.issue({ sub: "u1", sid: "s1" });
  const activeKid = kidOf(before.token);
  await a.verify(before.token);
  await a.revoke(activeKid);
  await assertRefused(a, before.token);
  const after = await a.issue({ sub: "u1", sid: "s1" });
  assert.notEqual(kidOf(after.token), activeKid);
  assert.equal((await a.verify(after.token)).sub, "u1");
  assert.deepEqual(kids(a)[0], kidOf(after.token));
  assert.equal(kids(a).includes(activeKid), false);
  assert.equal((await a.list()).filter((k) => k.active).length, 1);
});

test("a revoke on one instance is seen by another at once through pub/sub, even for tokens it had cached", async () => {
  const shared = createPubSub({});
  cleanups.push(() => shared.close());
  const a = await instance(shared);
  const b = await instance(shared);
  const token = (await a.issue({ sub: "u1", sid: "s1" })).token;
  assert.equal((await b.verify(token)).sub, "u1"); // cached on b
  await a.revoke(kidOf(token));
  await assertRefused(b, token);
  // b signs with the key a made when it revoked the active one.
  const next = await b.issue({ sub: "u2", sid: "s2" });
  assert.equal((await a.verify(next.token)).sub, "u2");
});

test("a key rotated in on another instance is found through an unknown-kid reload, at most once per 5 s", async () => {
  const a = await instance();
  const b = await instance(); // its own pub/sub: it hears nothing from a
  await a.rotate();
  const first = await a.issue({ sub: "u1", sid: "s1" });
  assert.equal((await b.verify(first.token)).sub, "u1");
  assert.ok(kids(b).includes(kidOf(first.token)));

  // A second rotation in the same 5 s: b does not go back to the database yet.
  await a.rotate();
  const second = await a.issue({ sub: "u2", sid: "s2" });
  await assertRefused(b, second.token);
  clock.advance(5_000);
  assert.equal((await b.verify(second.token)).sub, "u2");
});

test(
  "with Redis, a revoke on instance A reaches instance B on the same database",
  { skip: needs("redis") },
  async () => {
    const prefix = `bwtest:${randomToken(6)}`;
    const pubA = createPubSub({ redisUrl: TEST_REDIS_URL, prefix });
    const pubB = createPubSub({ redisUrl: TEST_REDIS_URL, prefix });
    cleanups.push(
      () => pubA.close(),
      () => pubB.close(),
    );
    const a = await instance(pubA);
    const b = await instance(pubB);
    const token = (await a.issue({ sub: "u1", sid: "s1" })).token;
    assert.equal((await b.verify(token)).sub, "u1"); // cached on b

    const rotated = await a.rotate();
    // b reloads when it hears the rotation: wait for it by polling a bounded number of times.
    for (let i = 0; i < 200 && !kids(b).includes(rotated.kid); i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(kids(b), kids(a));

    await a.revoke(kidOf(token));
    let refused = false;
    for (let i = 0; i < 200 && !refused; i++) {
      refused = await b.verify(token).then(
        () => false,
        (error: unknown) => error instanceof AppError && error.code === "unauthorized",
      );
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(refused, "b refuses the revoked key's token");
    assert.equal(kids(b).includes(kidOf(token)), false);
  },
);
