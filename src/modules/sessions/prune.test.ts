// Threat: a database that keeps every ended session and every failed login name forever (storage
// exhaustion, and a growing record of who tried which name); pruning must not weaken reuse detection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../store/db.js";
import { startApp } from "../../../test/harness.js";
import { login, signedIn } from "../../../test/identity.js";

const DAY = 24 * 3_600_000;

test("pruning deletes sessions ended over 30 days ago and stale login counters, and keeps what detects reuse", async (t) => {
  const app = await startApp({
    env: {
      REFRESH_TOKEN_TTL: String(5 * 86_400),
      RATE_LIMIT_PER_MINUTE: "1000",
      AUTH_LOGIN_PER_MINUTE: "1000",
      AUTH_REGISTER_PER_MINUTE: "1000",
    },
  });
  t.after(() => app.close());
  const refresh = (token: string) =>
    app.app.inject({ method: "POST", url: "/api/auth/refresh", payload: { refresh_token: token } });

  const expired = await signedIn(app.app);
  const revoked = await signedIn(app.app);
  assert.equal(
    (
      await app.app.inject({
        method: "POST",
        url: "/api/auth/logout",
        headers: { authorization: `Bearer ${revoked.access}` },
      })
    ).statusCode,
    204,
  );
  assert.equal((await login(app.app, { username: "nobody_here", password: "wrong password!" })).statusCode, 401);

  // 20 days on: one session expired (its life is 5 days) and one revoked, both under 30 days ago.
  app.clock.advance(20 * DAY);
  assert.deepEqual(
    await app.app.bulwark.prune(),
    {
      unverified_accounts: 0,
      sessions: 0,
      login_failures: 1,
      file_staging: 0,
      file_orphans: 0,
      messages: 0,
      invitations: 0,
    },
    "the day-old failure counter goes; ended sessions stay 30 days",
  );

  app.clock.advance(16 * DAY);
  const live = await signedIn(app.app);
  assert.equal((await refresh(live.refresh)).statusCode, 200);
  assert.deepEqual(
    await app.app.bulwark.prune(),
    {
      unverified_accounts: 0,
      sessions: 2,
      login_failures: 0,
      file_staging: 0,
      file_orphans: 0,
      messages: 0,
      invitations: 0,
    },
    "expired 31 days ago, revoked 36 days ago",
  );
  const left = rowsOf<{ id: string }>(await app.store.db.execute(sql`select id from sessions`)).map((r) => r.id);
  assert.deepEqual(left, [live.sessionId]);
  assert.ok(!left.includes(expired.sessionId));
  // The live session's rotated token is kept: presenting it again later still revokes the session.
  app.clock.advance(60_000);
  const reuse = await refresh(live.refresh);
  assert.equal(reuse.json().error.code, "token_reused");
});
