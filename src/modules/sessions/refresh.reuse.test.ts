// Threat: a stolen refresh token replayed after its owner has used it, and racing refreshes minting two sessions.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../store/db.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";

let t: TestApp;
before(async () => {
  t = await startApp({
    env: {
      RATE_LIMIT_PER_MINUTE: "10000",
      RATE_LIMIT_PER_HOUR: "100000",
      AUTH_LOGIN_PER_MINUTE: "1000",
      AUTH_REGISTER_PER_MINUTE: "1000",
    },
  });
});
after(() => t.close());

const refresh = (token: string) =>
  t.app.inject({ method: "POST", url: "/api/auth/refresh", payload: { refresh_token: token } });

test("each refresh returns a new pair and kills the old refresh token; tokens are stored only as HMACs", async () => {
  const user = await signedIn(t.app);
  const first = await refresh(user.refresh);
  assert.equal(first.statusCode, 200);
  const pair = first.json();
  assert.notEqual(pair.refresh_token, user.refresh);
  assert.equal(pair.session_id, user.sessionId);
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(pair.access_token) })).statusCode,
    200,
  );
  const stored = rowsOf<{ token_hash: string }>(
    await t.store.db.execute(sql`select token_hash from refresh_tokens`),
  ).map((r) => r.token_hash);
  assert.ok(stored.every((h) => /^[0-9a-f]{64}$/.test(h)));
  assert.equal(stored.includes(user.refresh) || stored.includes(pair.refresh_token), false);
  assert.equal((await refresh(pair.refresh_token)).statusCode, 200, "the new one works");
});

test("a rotated token presented within 10 s is refused without ending the session (two tabs racing)", async () => {
  const user = await signedIn(t.app);
  const next = (await refresh(user.refresh)).json();
  t.clock.advance(5_000);
  const again = await refresh(user.refresh);
  assert.equal(again.statusCode, 401);
  assert.equal(again.json().error.code, "unauthorized");
  assert.equal((await refresh(next.refresh_token)).statusCode, 200, "the session goes on");
});

test("a rotated token presented later than 10 s ends the whole session with token_reused, audited", async () => {
  const user = await signedIn(t.app);
  const next = (await refresh(user.refresh)).json();
  t.clock.advance(11_000);
  const replay = await refresh(user.refresh);
  assert.equal(replay.statusCode, 401);
  assert.equal(replay.json().error.code, "token_reused");
  assert.equal((await refresh(next.refresh_token)).statusCode, 401, "the thief's and the owner's tokens are both dead");
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(next.access_token) })).statusCode,
    401,
    "access tokens of the session stop at once",
  );
  const events = (await t.app.bulwark.audit.query({ eventType: "auth.token_reuse" })).events;
  assert.equal(events.length, 1);
  assert.equal(events[0]!.target, user.sessionId);
});

test("of concurrent refreshes with one token exactly one succeeds", async () => {
  const user = await signedIn(t.app);
  const results = await Promise.all(Array.from({ length: 8 }, () => refresh(user.refresh)));
  const statuses = results.map((r) => r.statusCode).sort();
  assert.deepEqual(statuses, [200, 401, 401, 401, 401, 401, 401, 401]);
  const live = rowsOf<{ n: string }>(
    await t.store.db.execute(
      sql`select count(*) as n from refresh_tokens r join sessions s on s.id = r.session_id where s.id = ${user.sessionId} and r.rotated_at is null`,
    ),
  );
  assert.equal(Number(live[0]!.n), 1, "one live refresh token for the session");
});

test("a refresh token past the session's absolute expiry is refused; rotation never extends it", async () => {
  const user = await signedIn(t.app);
  let token = user.refresh;
  for (let i = 0; i < 3; i++) {
    t.clock.advance(10 * 24 * 3600_000 - 1000);
    const res = await refresh(token);
    assert.equal(res.statusCode, 200, `refresh ${i + 1}`);
    token = res.json().refresh_token;
  }
  t.clock.advance(10 * 24 * 3600_000);
  assert.equal((await refresh(token)).statusCode, 401, "30 days after login the session is over");
});

test("garbage refresh tokens are refused", async () => {
  for (const token of ["", "x", "a".repeat(200)]) {
    const res = await t.app.inject({
      method: "POST",
      url: "/api/auth/refresh",
      payload: token ? { refresh_token: token } : {},
    });
    assert.ok([400, 401].includes(res.statusCode), token);
  }
});
