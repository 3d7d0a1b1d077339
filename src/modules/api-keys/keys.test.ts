import { Type } from "typebox";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { hmacSha256Hex, sha256Hex } from "../../core/crypto/index.js";
import { rowsOf } from "../../store/db.js";
import { captureLog, startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn, stepUp, type SignedIn } from "../../../test/identity.js";
import { parseKey } from "./format.js";

let t: TestApp;
const log = captureLog();
const issued: string[] = [];
before(async () => {
  t = await startApp({
    env: {
      RATE_LIMIT_PER_MINUTE: "1000",
      SENSITIVE_PER_MINUTE: "1000",
      AUTH_REGISTER_PER_MINUTE: "1000",
      AUTH_LOGIN_PER_MINUTE: "1000",
    },
    log: log.stream,
    logLevel: "debug",
    // Library routes guarded by scopes, as an application adds them.
    extend: (app) => {
      app.get("/api/reports", { config: { auth: { apiKey: "files:read" }, rateLimit: "default" } }, async (req) => ({
        by: req.principal!.type,
      }));
      app.post(
        "/api/reports",
        {
          schema: { body: Type.Object({}, { additionalProperties: false }) },
          config: { auth: { apiKey: "files:write", user: true }, rateLimit: "default" },
        },
        async (req) => ({ by: req.principal!.type }),
      );
    },
  });
});
after(() => t.close());

async function createKey(user: SignedIn, body: Record<string, unknown>) {
  await stepUp(t.app, user);
  const res = await t.app.inject({ method: "POST", url: "/api/keys", headers: bearer(user.access), payload: body });
  assert.equal(res.statusCode, 201, res.body);
  const created = res.json();
  issued.push(created.key);
  return created as {
    id: string;
    key: string;
    prefix: string;
    scopes: string[];
    expires_at: string | null;
    replaces?: { id: string };
  };
}
const withKey = (key: string, url: string, method: "GET" | "POST" = "GET", form: "bearer" | "x-api-key" = "bearer") =>
  t.app.inject({ method, url, headers: form === "bearer" ? bearer(key) : { "x-api-key": key } });
async function admin(): Promise<SignedIn> {
  const user = await signedIn(t.app);
  await t.app.bulwark.accounts.promote(user.username, { userId: null });
  return user;
}

test("a key is shown once, works with each header form, and whoami says api_key with its scopes", async () => {
  const user = await signedIn(t.app);
  const created = await createKey(user, { name: "ci", scopes: ["files:read"] });
  assert.match(created.key, /^bwk_[0-9a-f]{32}_[0-9A-Za-z]{46}$/);
  assert.equal(parseKey(created.key), created.id);
  assert.equal(created.prefix, `bwk_${created.id}`);
  for (const form of ["bearer", "x-api-key"] as const) {
    const who = await withKey(created.key, "/api/whoami", "GET", form);
    assert.equal(who.statusCode, 200, who.body);
    assert.deepEqual(who.json().principal, {
      type: "api_key",
      user_id: user.userId,
      role: "user",
      key_id: created.id,
      scopes: ["files:read"],
    });
    assert.equal((await withKey(created.key, "/api/reports", "GET", form)).statusCode, 200);
  }
  // Two different keys in one request are refused rather than one picked.
  const other = await createKey(user, { name: "other", scopes: ["files:read"] });
  const both = await t.app.inject({
    method: "GET",
    url: "/api/reports",
    headers: { ...bearer(created.key), "x-api-key": other.key },
  });
  assert.equal(both.statusCode, 401);

  const list = await t.app.inject({ method: "GET", url: "/api/keys", headers: bearer(user.access) });
  assert.equal(list.statusCode, 200);
  assert.deepEqual(
    list
      .json()
      .keys.map((k: { id: string }) => k.id)
      .sort(),
    [created.id, other.id].sort(),
  );
  assert.ok(!list.body.includes(created.key) && !list.body.includes(created.key.slice(38)), "no secret in the list");
  assert.equal(list.json().keys[0].key, undefined);
});

test("the stored value is an HMAC under SECRET_KEY: neither the key nor its plain SHA-256", async () => {
  const user = await signedIn(t.app);
  const created = await createKey(user, { name: "stored", scopes: [] });
  const [row] = rowsOf<Record<string, unknown>>(
    await t.store.db.execute(sql`select * from api_keys where id = ${created.id}`),
  );
  const stored = JSON.stringify(row);
  assert.ok(!stored.includes(created.key.slice(37)), "the secret part is not stored");
  assert.ok(!stored.includes(sha256Hex(created.key)), "not a plain SHA-256");
  assert.equal(row!.key_hash, hmacSha256Hex(t.config.secretKey, created.key));
});

test("scopes are enforced; a key never reaches user-only or admin routes without the admin scope and an admin owner", async () => {
  const user = await signedIn(t.app);
  const reader = await createKey(user, { name: "reader", scopes: ["files:read"] });
  assert.equal((await withKey(reader.key, "/api/reports", "POST")).statusCode, 403, "files:write missing");
  assert.equal((await withKey(reader.key, "/api/reports", "POST")).json().error.code, "forbidden");
  assert.equal(
    (await t.app.inject({ method: "POST", url: "/api/reports", headers: bearer(user.access) })).statusCode,
    200,
    "the user form lets users in",
  );
  assert.equal((await withKey(reader.key, "/api/users/me")).statusCode, 403, "user-only route");
  assert.equal(
    (
      await t.app.inject({
        method: "POST",
        url: "/api/keys",
        headers: bearer(reader.key),
        payload: { name: "x", scopes: [] },
      })
    ).statusCode,
    403,
    "a key cannot mint keys",
  );
  assert.equal((await withKey(reader.key, "/api/admin/users")).statusCode, 403);
  const refused = await t.app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(user.access),
    payload: { name: "sneaky", scopes: ["admin"] },
  });
  assert.equal(refused.statusCode, 403, "only admins mint admin-scoped keys");

  const boss = await admin();
  const plain = await createKey(boss, { name: "plain", scopes: ["files:read"] });
  assert.equal((await withKey(plain.key, "/api/admin/users")).statusCode, 403, "admin owner, no admin scope");
  const adminKey = await createKey(boss, { name: "ops", scopes: ["admin"] });
  assert.equal((await withKey(adminKey.key, "/api/admin/users")).statusCode, 200);
  const bad = await t.app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(user.access),
    payload: { name: "bad", scopes: ["Files Read"] },
  });
  assert.equal(bad.statusCode, 400);
});

test("expiry follows the injected clock and is audited once as api_key.expire", async () => {
  const user = await signedIn(t.app);
  const created = await createKey(user, {
    name: "short",
    scopes: ["files:read"],
    expires_at: new Date(t.clock.now() + 3_600_000).toISOString(),
  });
  const past = await t.app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(user.access),
    payload: { name: "past", scopes: [], expires_at: "2020-01-01T00:00:00Z" },
  });
  assert.equal(past.statusCode, 400);
  assert.equal((await withKey(created.key, "/api/reports")).statusCode, 200);
  t.clock.advance(3_600_001);
  assert.equal((await withKey(created.key, "/api/reports")).statusCode, 401);
  assert.equal((await withKey(created.key, "/api/reports")).statusCode, 401);
  await t.app.bulwark.apiKeys.recordExpiries();
  const events = await t.app.bulwark.audit.query({ eventType: "api_key.expire" });
  assert.equal(events.events.filter((e) => e.target === created.id).length, 1);
});

test("rotation issues a new key and keeps the old one until the grace ends", async () => {
  const user = await signedIn(t.app);
  const old = await createKey(user, { name: "deploy", scopes: ["files:read"] });
  const res = await t.app.inject({
    method: "POST",
    url: `/api/keys/${old.id}/rotate`,
    headers: bearer(user.access),
    payload: { grace_seconds: 600 },
  });
  assert.equal(res.statusCode, 201, res.body);
  const next = res.json();
  issued.push(next.key);
  assert.notEqual(next.id, old.id);
  assert.deepEqual(next.scopes, ["files:read"]);
  assert.equal(next.replaces.id, old.id);
  assert.equal((await withKey(old.key, "/api/reports")).statusCode, 200, "old key in its grace");
  assert.equal((await withKey(next.key, "/api/reports")).statusCode, 200);
  t.clock.advance(601_000);
  assert.equal((await withKey(old.key, "/api/reports")).statusCode, 401, "grace over");
  assert.equal((await withKey(next.key, "/api/reports")).statusCode, 200);
  // Default grace is a day; grace 0 ends the old key at once.
  const now = await t.app.inject({
    method: "POST",
    url: `/api/keys/${next.id}/rotate`,
    headers: bearer(user.access),
    payload: { grace_seconds: 0 },
  });
  assert.equal(now.statusCode, 201);
  issued.push(now.json().key);
  assert.equal((await withKey(next.key, "/api/reports")).statusCode, 401);
  const dflt = await t.app.inject({
    method: "POST",
    url: `/api/keys/${now.json().id}/rotate`,
    headers: bearer(user.access),
  });
  assert.equal(dflt.statusCode, 201, dflt.body);
  issued.push(dflt.json().key);
  assert.equal(dflt.json().replaces.expires_at, new Date(t.clock.now() + 86_400_000).toISOString());
  const audit = await t.app.bulwark.audit.query({ eventType: "api_key.rotate" });
  assert.ok(audit.events.some((e) => e.target === old.id));
  const stranger = await signedIn(t.app);
  assert.equal(
    (
      await t.app.inject({
        method: "POST",
        url: `/api/keys/${dflt.json().id}/rotate`,
        headers: bearer(stranger.access),
      })
    ).statusCode,
    404,
  );
});

test("revocation is effective on the next request; another user's key is not found", async () => {
  const user = await signedIn(t.app);
  const created = await createKey(user, { name: "gone", scopes: ["files:read"] });
  assert.equal((await withKey(created.key, "/api/reports")).statusCode, 200);
  const stranger = await signedIn(t.app);
  assert.equal(
    (await t.app.inject({ method: "DELETE", url: `/api/keys/${created.id}`, headers: bearer(stranger.access) }))
      .statusCode,
    404,
  );
  assert.equal(
    (await t.app.inject({ method: "DELETE", url: `/api/keys/${created.id}`, headers: bearer(user.access) })).statusCode,
    204,
  );
  assert.equal((await withKey(created.key, "/api/reports")).statusCode, 401);
  assert.equal(
    (await t.app.inject({ method: "DELETE", url: `/api/keys/${created.id}`, headers: bearer(user.access) })).statusCode,
    404,
  );
  const events = await t.app.bulwark.audit.query({ eventType: "api_key.revoke" });
  assert.ok(events.events.some((e) => e.target === created.id && e.actor.user_id === user.userId));
});

test("admins list and revoke any user's keys; disabling the owner stops and revokes its keys", async () => {
  const boss = await admin();
  const user = await signedIn(t.app);
  const a = await createKey(user, { name: "a", scopes: ["files:read"] });
  const b = await createKey(user, { name: "b", scopes: ["files:read"] });
  const listed = await t.app.inject({
    method: "GET",
    url: `/api/admin/users/${user.userId}/keys`,
    headers: bearer(boss.access),
  });
  assert.equal(listed.statusCode, 200);
  assert.equal(listed.json().keys.length, 2);
  assert.ok(!listed.body.includes(a.key) && !listed.body.includes(b.key));
  assert.equal(
    (await t.app.inject({ method: "GET", url: `/api/admin/users/${user.userId}/keys`, headers: bearer(user.access) }))
      .statusCode,
    403,
  );
  assert.equal(
    (await t.app.inject({ method: "DELETE", url: `/api/admin/keys/${a.id}`, headers: bearer(boss.access) })).statusCode,
    204,
  );
  assert.equal((await withKey(a.key, "/api/reports")).statusCode, 401);
  assert.equal((await withKey(b.key, "/api/reports")).statusCode, 200);
  assert.equal(
    (
      await t.app.inject({
        method: "POST",
        url: `/api/admin/users/${user.userId}/disable`,
        headers: bearer(boss.access),
      })
    ).statusCode,
    204,
  );
  assert.equal((await withKey(b.key, "/api/reports")).statusCode, 401, "disabled owner: key refused at once");
  assert.equal(
    (
      await t.app.inject({
        method: "POST",
        url: `/api/admin/users/${user.userId}/enable`,
        headers: bearer(boss.access),
      })
    ).statusCode,
    204,
  );
  assert.equal((await withKey(b.key, "/api/reports")).statusCode, 401, "disabling revoked the key for good");
  const after = await t.app.inject({
    method: "GET",
    url: `/api/admin/users/${user.userId}/keys`,
    headers: bearer(boss.access),
  });
  assert.equal(after.json().keys.length, 0);
});

test("a key with its own rate limit is counted in its own bucket too", async () => {
  const user = await signedIn(t.app);
  const limited = await createKey(user, { name: "slow", scopes: ["files:read"], rate_limit_per_minute: 3 });
  const shared = await createKey(user, { name: "shared", scopes: ["files:read"] });
  for (let i = 0; i < 3; i++) assert.equal((await withKey(limited.key, "/api/reports")).statusCode, 200);
  const refused = await withKey(limited.key, "/api/reports");
  assert.equal(refused.statusCode, 429);
  assert.ok(refused.headers["retry-after"]);
  assert.match(String(refused.headers["ratelimit-policy"]), /"key";q=3;w=60/);
  assert.equal(
    (await withKey(shared.key, "/api/reports")).statusCode,
    200,
    "the other key and the user still have budget",
  );
  const tooHigh = await t.app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(user.access),
    payload: { name: "fast", scopes: [], rate_limit_per_minute: 5000 },
  });
  assert.equal(tooHigh.statusCode, 400, "a key's own limit may not exceed the user's");
  t.clock.advance(61_000);
  assert.equal((await withKey(limited.key, "/api/reports")).statusCode, 200);
});

test("last_used_at is written at most once a minute; uses are counted in metrics by key id", async () => {
  const user = await signedIn(t.app);
  const created = await createKey(user, { name: "touch", scopes: ["files:read"] });
  const lastUsed = async () => {
    const [row] = rowsOf<{ last_used_at: string | Date | null }>(
      await t.store.db.execute(sql`select last_used_at from api_keys where id = ${created.id}`),
    );
    return row!.last_used_at === null ? null : new Date(row!.last_used_at).getTime();
  };
  // The write is in the background (the request does not wait for it): poll until it lands.
  const settled = async (expected: number) => {
    for (let i = 0; i < 200 && (await lastUsed()) !== expected; i++) await new Promise((r) => setTimeout(r, 5));
    return lastUsed();
  };
  assert.equal(await lastUsed(), null);
  await withKey(created.key, "/api/reports");
  const first = await settled(t.clock.now());
  assert.equal(first, t.clock.now());
  t.clock.advance(30_000);
  await withKey(created.key, "/api/reports");
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  assert.equal(await lastUsed(), first, "not within the minute");
  t.clock.advance(31_000);
  await withKey(created.key, "/api/reports");
  assert.equal(await settled(t.clock.now()), t.clock.now());
  const metrics = await t.app.inject({ method: "GET", url: "/metrics", headers: bearer(t.config.metricsToken) });
  assert.match(metrics.body, /^bulwark_api_key_requests_total \d+$/m, "counted, with no per-key label");
  assert.doesNotMatch(metrics.body, new RegExp(created.id), "no series names a key id");
});

test("no key ever appears in logs, audit rows or error bodies", async () => {
  const user = await signedIn(t.app);
  const created = await createKey(user, { name: "secretive", scopes: [] });
  const flipped = created.key.slice(0, -1) + (created.key.endsWith("A") ? "B" : "A");
  const res = await withKey(flipped, "/api/reports");
  assert.equal(res.statusCode, 401);
  assert.ok(!res.body.includes(flipped));
  const rows = rowsOf<Record<string, unknown>>(await t.store.db.execute(sql`select * from audit_logs`));
  const audit = JSON.stringify(rows);
  assert.ok(rows.some((r) => r.event_type === "api_key.create"));
  const text = log.text();
  assert.ok(text.length > 0);
  for (const key of issued) {
    const secret = key.slice(37);
    assert.ok(!audit.includes(secret), "no key in audit rows");
    assert.ok(!text.includes(secret), "no key in logs");
  }
});
