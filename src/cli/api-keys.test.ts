import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { createApp } from "../app.js";
import { rowsOf } from "../store/db.js";
import { testConfig } from "../../test/harness.js";
import { register } from "../../test/identity.js";
import { apiKeysCommand } from "./api-keys.js";
import { captureOutput } from "./output.js";

test("api-keys create prints the key once; list never shows it; revoke stops it", async () => {
  const config = testConfig({ RATE_LIMIT_PER_MINUTE: "1000", AUTH_REGISTER_PER_MINUTE: "1000" });
  let app = await createApp(config);
  let username: string;
  try {
    username = (await register(app)).username;
  } finally {
    await app.close();
  }
  assert.equal(
    await apiKeysCommand(["create", "--user", username, "--name", "ci"], captureOutput(), () => config),
    2,
    "--scopes is required",
  );
  assert.equal(
    await apiKeysCommand(
      ["create", "--user", username, "--name", "ci", "--scopes", "Bad Scope"],
      captureOutput(),
      () => config,
    ),
    2,
  );
  const created = captureOutput();
  assert.equal(
    await apiKeysCommand(
      ["create", "--user", username, "--name", "ci", "--scopes", "files:read,files:write", "--expires", "30"],
      created,
      () => config,
    ),
    0,
  );
  const key = created.lines.find((l) => l.startsWith("bwk_"))!;
  assert.ok(key, created.lines.join("\n"));
  const id = /created key ([0-9a-f]{32})/.exec(created.lines[0]!)![1]!;
  assert.equal(
    await apiKeysCommand(["create", "--user", "nobody", "--name", "x", "--scopes", ""], captureOutput(), () => config),
    1,
  );

  const listed = captureOutput();
  assert.equal(await apiKeysCommand(["list", "--user", username], listed, () => config), 0);
  assert.match(listed.lines.join("\n"), new RegExp(id));
  assert.ok(!listed.lines.join("\n").includes(key.slice(37)), "no secret in the list");

  app = await createApp(config);
  try {
    const who = await app.inject({ method: "GET", url: "/api/whoami", headers: { "x-api-key": key } });
    assert.equal(who.statusCode, 200);
    assert.deepEqual(who.json().principal.scopes, ["files:read", "files:write"]);
    const audit = JSON.stringify(
      rowsOf(await app.bulwark.store.db.execute(sql`select * from audit_logs where event_type = 'api_key.create'`)),
    );
    assert.ok(audit.includes(id) && !audit.includes(key.slice(37)));
  } finally {
    await app.close();
  }
  const revoked = captureOutput();
  assert.equal(await apiKeysCommand(["revoke", id], revoked, () => config), 0);
  assert.match(revoked.lines[0]!, /revoked key/);
  assert.equal(await apiKeysCommand(["revoke", id], captureOutput(), () => config), 1, "already revoked");
  app = await createApp(config);
  try {
    assert.equal(
      (await app.inject({ method: "GET", url: "/api/whoami", headers: { "x-api-key": key } })).statusCode,
      401,
    );
  } finally {
    await app.close();
  }
});
