// Attacks on the first admin's setup link: the link replayed after use, and two uses racing so that two admins are made.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { login } from "../../../test/identity.js";
import { admins, openSetup, setupBody, setupEvents } from "../../../test/setup-link.js";

test("the setup link makes one admin, who can sign in; replaying it is refused and changes nothing", async () => {
  const t = await startApp({ env: { AUTH_LOGIN_PER_MINUTE: "100" } });
  try {
    const token = await openSetup(t);
    const body = setupBody(token);
    const res = await t.app.inject({ method: "POST", url: "/api/setup/admin", payload: body });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().user.role, "admin");
    assert.equal(res.json().user.email_verified, false, "a typed address is not a proven one");
    assert.equal((await login(t.app, body)).statusCode, 200, "the person who chose the password signs in");

    const replay = await t.app.inject({ method: "POST", url: "/api/setup/admin", payload: setupBody(token) });
    assert.equal(replay.statusCode, 400, replay.body);
    assert.equal(replay.json().error.details[0].path, "token");
    assert.deepEqual(await admins(t), [body.username]);
    assert.equal(t.app.bulwark.accounts.setupOpen(), false);
    assert.equal(await t.app.bulwark.accounts.openSetup(), undefined, "no new link once an admin exists");

    const events = await setupEvents(t);
    assert.deepEqual(
      events.map((e) => [e.event_type, e.result, e.metadata?.reason ?? null]),
      [
        ["admin.setup_link", "success", null],
        ["admin.setup", "success", null],
        ["admin.setup", "denied", "no_link"],
      ],
    );
    assert.ok(!JSON.stringify(events).includes(token), "the token is never audited");
  } finally {
    await t.close();
  }
});

test("two uses of one setup link at once make exactly one admin", async () => {
  const t = await startApp({ env: { AUTH_LOGIN_PER_MINUTE: "100" } });
  try {
    const token = await openSetup(t);
    const answers = await Promise.all(
      [0, 1, 2].map(() => t.app.inject({ method: "POST", url: "/api/setup/admin", payload: setupBody(token) })),
    );
    // The losers get 409 (the winner's admin exists) or 400 (the link is used up): refused either way.
    const codes = answers.map((a) => a.statusCode).sort();
    assert.equal(codes[0], 201, answers.map((a) => a.body).join("\n"));
    assert.ok(
      codes.slice(1).every((c) => c === 400 || c === 409),
      codes.join(),
    );
    assert.equal((await admins(t)).length, 1);
    const denied = (await setupEvents(t)).filter((e) => e.result === "denied");
    assert.equal(denied.length, 2);
  } finally {
    await t.close();
  }
});
