// Attack: a demoted admin keeps admin power through an API key with the `admin` scope minted while
// admin (its scope still reaches `{ apiKey: "admin" }` routes, gateway upstreams and introspection,
// and wakes up again on a later promotion); their access token issued while admin keeps role admin.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Type } from "typebox";
import { cliDatabase, startApp, testConfig } from "../../../test/harness.js";
import { bearer, login, register, signedIn, stepUp } from "../../../test/identity.js";
import { createApp } from "../../app.js";
import { captureOutput } from "../../cli/output.js";
import { usersCommand } from "../../cli/users.js";

const env = { SENSITIVE_PER_MINUTE: "1000", AUTH_LOGIN_PER_MINUTE: "1000", AUTH_REGISTER_PER_MINUTE: "1000" };

test("demotion revokes the admin-scoped keys, audited; other keys and the sessions' current role follow", async () => {
  const t = await startApp({
    env,
    // A library route that trusts the scope alone, as an app's own route may.
    extend: (app) => {
      app.get(
        "/app/admin-scope",
        {
          schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } },
          config: { auth: { apiKey: "admin" }, rateLimit: "default" },
        },
        async () => ({ ok: true }),
      );
    },
  });
  try {
    const root = await signedIn(t.app);
    await t.app.bulwark.accounts.promote(root.username, { userId: null });
    const rootAccess = (await login(t.app, root)).json().access_token as string;
    const mallory = await signedIn(t.app);
    await t.app.bulwark.accounts.promote(mallory.username, { userId: null });
    const access = (await login(t.app, mallory)).json().access_token as string;
    await stepUp(t.app, { access, password: mallory.password });
    const make = async (name: string, scopes: string[]) => {
      const res = await t.app.inject({
        method: "POST",
        url: "/api/keys",
        headers: bearer(access),
        payload: { name, scopes },
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as { id: string; key: string };
    };
    const adminKey = await make("ops", ["admin", "files"]);
    const plainKey = await make("ci", ["files"]);
    const get = (url: string, key: string) => t.app.inject({ method: "GET", url, headers: { "x-api-key": key } });
    assert.equal(
      (await get("/app/admin-scope", adminKey.key)).statusCode,
      200,
      "the key works while its owner is admin",
    );
    assert.equal((await get("/api/admin/users", adminKey.key)).statusCode, 200);

    const demoted = await t.app.inject({
      method: "POST",
      url: `/api/admin/users/${mallory.userId}/demote`,
      headers: bearer(rootAccess),
    });
    assert.equal(demoted.statusCode, 200, demoted.body);

    assert.equal((await get("/app/admin-scope", adminKey.key)).statusCode, 401, "the admin-scoped key is revoked");
    assert.equal((await get("/api/admin/users", adminKey.key)).statusCode, 401);
    assert.equal(
      (await get("/api/whoami", plainKey.key)).json().principal.role,
      "user",
      "a key without admin scope lives on",
    );
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/admin/users", headers: bearer(access) })).statusCode,
      403,
      "the access token issued while admin carries the current role, not the old one",
    );
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(access) })).statusCode,
      200,
    );

    // A later promotion does not wake the old key up.
    await t.app.bulwark.accounts.promote(mallory.username, { userId: null });
    assert.equal((await get("/app/admin-scope", adminKey.key)).statusCode, 401);
    assert.deepEqual(
      (await t.app.bulwark.apiKeys.list(mallory.userId)).map((k) => k.id),
      [plainKey.id],
    );

    const revokes = (await t.app.bulwark.audit.query({ eventType: "api_key.revoke" })).events;
    assert.equal(revokes.length, 1);
    assert.equal(revokes[0]!.target, adminKey.id);
    assert.equal(revokes[0]!.metadata.reason, "demoted");
    const demotion = (await t.app.bulwark.audit.query({ eventType: "user.demote" })).events[0]!;
    assert.equal(demotion.metadata.api_keys_revoked, 1);
  } finally {
    await t.close();
  }
});

test("bulwark users demote revokes the admin-scoped keys too, and refuses the last admin", async () => {
  const db = await cliDatabase();
  const config = testConfig({ ...db.env, ...env });
  try {
    let app = await createApp(config);
    let adminKey: string;
    let plainKey: string;
    let grace: { username: string; userId: string };
    let root: { username: string };
    try {
      root = await register(app);
      await app.bulwark.accounts.promote(root.username, { userId: null });
      grace = await register(app);
      await app.bulwark.accounts.promote(grace.username, { userId: null });
      const operator = { userId: null };
      adminKey = (await app.bulwark.apiKeys.create(grace.userId, { name: "ops", scopes: ["admin"] }, operator)).key;
      plainKey = (await app.bulwark.apiKeys.create(grace.userId, { name: "ci", scopes: ["files"] }, operator)).key;
    } finally {
      await app.close();
    }
    const out = captureOutput();
    assert.equal(await usersCommand(["demote", grace.username], out, () => config), 0);
    assert.match(out.lines[0]!, /no longer an admin/);
    app = await createApp(config);
    try {
      const whoami = (key: string) => app.inject({ method: "GET", url: "/api/whoami", headers: { "x-api-key": key } });
      assert.equal((await whoami(adminKey)).statusCode, 401, "the admin-scoped key is revoked");
      assert.equal((await whoami(plainKey)).statusCode, 200);
      const demotion = (await app.bulwark.audit.query({ eventType: "user.demote" })).events[0]!;
      assert.equal(demotion.target, grace.userId);
      assert.equal(demotion.metadata.api_keys_revoked, 1);
    } finally {
      await app.close();
    }
    await assert.rejects(
      usersCommand(["demote", root.username], captureOutput(), () => config),
      /last admin/,
      "the last admin stays an admin",
    );
  } finally {
    await db.cleanup();
  }
});
