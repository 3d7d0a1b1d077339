// Attacks on the first admin's setup link: a guessed token, an expired link, a link from before a restart, and the setup route called once an admin exists.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { startApp } from "../../../test/harness.js";
import { signedIn } from "../../../test/identity.js";
import { randomToken } from "../../core/crypto/index.js";
import { rowsOf } from "../../store/db.js";
import { SETUP_LINK_TTL_MS } from "./first-admin.js";
import { admins, openSetup, setupBody, setupEvents } from "../../../test/setup-link.js";

const usersCount = async (t: Awaited<ReturnType<typeof startApp>>) =>
  rowsOf<{ n: number }>(await t.store.db.execute(sql`select count(*)::int as n from users`))[0]!.n;

test("a guessed token, an expired link and a replaced link are refused, audited, and make nobody", async () => {
  const t = await startApp({ env: { AUTH_LOGIN_PER_MINUTE: "100" } });
  try {
    const post = (token: string) =>
      t.app.inject({ method: "POST", url: "/api/setup/admin", payload: setupBody(token) });
    const none = await post(randomToken(32));
    assert.equal(none.statusCode, 400, "no link was opened (a library app, a test): nothing to guess");

    const first = await openSetup(t);
    const guessed = await post(randomToken(32));
    assert.equal(guessed.statusCode, 400, guessed.body);
    assert.equal(guessed.json().error.code, "invalid_request");
    assert.equal((await post(first.slice(0, 42) + (first.endsWith("A") ? "B" : "A"))).statusCode, 400);

    // A restart (or a new opening) makes a new link: the one printed before is dead.
    const second = await openSetup(t);
    assert.equal((await post(first)).statusCode, 400, "the link from before is dead");

    t.clock.advance(SETUP_LINK_TTL_MS + 1);
    assert.equal((await post(second)).statusCode, 400, "expired");
    assert.equal(t.app.bulwark.accounts.setupOpen(), false);
    assert.equal((await post(second)).statusCode, 400);

    assert.equal(await usersCount(t), 0, "nothing changed");
    assert.deepEqual(
      (await setupEvents(t)).filter((e) => e.result === "denied").map((e) => e.metadata?.reason),
      ["no_link", "wrong_token", "wrong_token", "wrong_token", "expired", "no_link"],
    );
  } finally {
    await t.close();
  }
});

test("with an admin in place no link is made, and the setup route refuses and changes nothing", async () => {
  const t = await startApp({ env: { AUTH_LOGIN_PER_MINUTE: "100", AUTH_REGISTER_PER_MINUTE: "100" } });
  try {
    // A link opened before an admin was made another way (bulwark users promote) dies with it.
    const token = await openSetup(t);
    const boss = await signedIn(t.app);
    await t.app.bulwark.accounts.promote(boss.username, { userId: null });
    const late = await t.app.inject({ method: "POST", url: "/api/setup/admin", payload: setupBody(token) });
    assert.equal(late.statusCode, 409, late.body);
    assert.equal(
      (await t.app.inject({ method: "POST", url: "/api/setup/admin", payload: setupBody(token) })).statusCode,
      400,
    );
    assert.equal(await t.app.bulwark.accounts.openSetup(), undefined);
    assert.deepEqual(await admins(t), [boss.username]);
    assert.equal(await usersCount(t), 1);
    assert.deepEqual(
      (await setupEvents(t)).filter((e) => e.result === "denied").map((e) => e.metadata?.reason),
      ["admin_exists", "no_link"],
    );
  } finally {
    await t.close();
  }
});
