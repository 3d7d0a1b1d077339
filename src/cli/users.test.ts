import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcryptjs from "bcryptjs";
import { createApp } from "../app.js";
import { testConfig } from "../../test/harness.js";
import { goodPassword, login } from "../../test/identity.js";
import { codeAt } from "../../test/mfa.js";
import { captureOutput } from "./output.js";
import { sessionsCommand } from "./sessions.js";
import { usersCommand } from "./users.js";
import { readImportText, rowsFromRecords } from "./users-import.js";

test("users import, users promote and sessions revoke act on the configured database", async () => {
  const config = testConfig({ RATE_LIMIT_PER_MINUTE: "1000" });
  const password = goodPassword();
  const dir = mkdtempSync(join(tmpdir(), "bulwark-users-"));
  const csv = join(dir, "users.csv");
  writeFileSync(
    csv,
    [
      "username,email,password_hash",
      `grace,grace@example.com,${bcryptjs.hashSync(password, 4).replace("$2b$", "$2y$")}`,
      "heidi,heidi@example.com,plaintext-not-a-hash",
      "x,bad,$2b$04$abc",
    ].join("\n"),
  );

  const quiet = { write: () => true };
  const imported = captureOutput();
  assert.equal(
    await usersCommand(["import", csv, "--skip-rejected"], imported, () => config, quiet),
    1,
    "exit 1 when rows were rejected",
  );
  assert.match(imported.lines.join("\n"), /imported 1 users/);
  assert.match(imported.lines.join("\n"), /line 3: rejected: unknown password hash format/);
  assert.match(imported.lines.join("\n"), /line 4: rejected: username must be 3 to 50/);

  const promoted = captureOutput();
  assert.equal(await usersCommand(["promote", "grace"], promoted, () => config), 0);
  assert.match(promoted.lines[0]!, /grace is now an admin/);
  assert.equal(await usersCommand(["promote", "nobody"], captureOutput(), () => config).catch(() => 1), 1);
  const verified = captureOutput();
  assert.equal(await usersCommand(["verify-email", "grace"], verified, () => config), 0);
  assert.match(verified.lines[0]!, /grace's address grace@example.com is verified/);

  // With the embedded database one process owns the data: the app stops while the CLI runs.
  const app = await createApp(config);
  let refreshToken: string;
  try {
    const res = await login(app, { username: "grace", password });
    assert.equal(res.statusCode, 200, "the imported bcrypt hash verifies");
    refreshToken = res.json().refresh_token as string;
    const me = await app.inject({
      method: "GET",
      url: "/api/users/me",
      headers: { authorization: `Bearer ${res.json().access_token}` },
    });
    assert.equal(me.json().user.role, "admin");
    assert.equal(me.json().user.email_verified, true);
    const busy = captureOutput();
    await assert.rejects(
      sessionsCommand(["revoke", "--all"], busy, () => config),
      /in use by process/,
      "the CLI refuses a database another process holds",
    );
  } finally {
    await app.close();
  }
  const revoked = captureOutput();
  assert.equal(await sessionsCommand(["revoke", "--user", "grace"], revoked, () => config), 0);
  assert.match(revoked.lines[0]!, /revoked 1 session/);
  const again = await createApp(config);
  try {
    assert.equal(
      (await again.inject({ method: "POST", url: "/api/auth/refresh", payload: { refresh_token: refreshToken } }))
        .statusCode,
      401,
    );
  } finally {
    await again.close();
  }
  assert.equal(await sessionsCommand(["revoke"], captureOutput(), () => config), 2, "--all or --user is required");

  // Disabling from the command line ends the sessions and refuses the login, until enabled again.
  const disabled = captureOutput();
  assert.equal(await usersCommand(["disable", "grace"], disabled, () => config), 0);
  assert.match(disabled.lines[0]!, /grace is disabled/);
  assert.equal(await usersCommand(["disable", "nobody"], captureOutput(), () => config), 1);
  const locked = await createApp(config);
  try {
    assert.equal((await login(locked, { username: "grace", password })).statusCode, 401);
  } finally {
    await locked.close();
  }
  assert.equal(await usersCommand(["enable", "grace"], captureOutput(), () => config), 0);
  const open = await createApp(config);
  try {
    assert.equal((await login(open, { username: "grace", password })).statusCode, 200);
  } finally {
    await open.close();
  }
});

test("the import reader takes an optional header, quoted fields, and unquoted Argon2 PHC strings", () => {
  const plain = rowsFromRecords(readImportText("a_user,a@example.com,$2b$x\n"), "csv");
  assert.deepEqual(plain.rows, [
    {
      line: 1,
      username: "a_user",
      email: "a@example.com",
      passwordHash: "$2b$x",
      emailVerified: false,
      admin: false,
      displayName: undefined,
    },
  ]);
  assert.match(
    rowsFromRecords(readImportText("only-one-field@x"), "csv").rejected[0]!.reason,
    /1 fields where csv has 3/,
  );
  const argon = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
  for (const line of [`b_user,b@example.com,${argon}`, `b_user,b@example.com,"${argon}"`]) {
    const rows = rowsFromRecords(readImportText(`username,email,password_hash\r\n${line}\r\n`), "csv").rows;
    assert.equal(rows[0]?.passwordHash, argon, "Argon2 PHC strings keep their commas");
    assert.equal(rows[0]?.line, 2);
  }
});

test("users reset-mfa turns two-factor off for a user who lost the device, ends the sessions, audits it", async () => {
  const config = testConfig({
    RATE_LIMIT_PER_MINUTE: "1000",
    AUTH_LOGIN_PER_MINUTE: "1000",
    AUTH_REGISTER_PER_MINUTE: "1000",
  });
  const password = goodPassword();
  const app = await createApp(config);
  let refreshToken: string;
  try {
    const registered = await app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { username: "ivan", email: "ivan@example.com", password },
    });
    // Two-factor needs a proven address.
    await app.bulwark.accounts.markEmailVerified(registered.json().user.id as string, { via: "test" });
    const signed = (await login(app, { username: "ivan", password })).json();
    refreshToken = signed.refresh_token as string;
    const auth = { authorization: `Bearer ${signed.access_token as string}` };
    const setup = await app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/setup",
      headers: auth,
      payload: { password },
    });
    const code = codeAt(setup.json().secret as string, Date.now());
    assert.equal(
      (await app.inject({ method: "POST", url: "/api/auth/mfa/totp/enable", headers: auth, payload: { code } }))
        .statusCode,
      200,
    );
    assert.equal((await login(app, { username: "ivan", password })).json().mfa_required, true);
  } finally {
    await app.close();
  }

  const out = captureOutput();
  assert.equal(await usersCommand(["reset-mfa", "ivan"], out, () => config), 0, out.errors.join("\n"));
  assert.match(out.lines[0]!, /two-factor is off for ivan; 1 session\(s\) ended/);
  assert.equal(await usersCommand(["reset-mfa", "ivan"], captureOutput(), () => config), 1, "not on any more");

  const after = await createApp(config);
  try {
    const res = await login(after, { username: "ivan", password });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().mfa_required, undefined, "the password alone signs in again");
    assert.equal(
      (await after.inject({ method: "POST", url: "/api/auth/refresh", payload: { refresh_token: refreshToken } }))
        .statusCode,
      401,
      "the lost device's session is over",
    );
    const [event] = (await after.bulwark.audit.query({ eventType: "mfa.disable" })).events;
    assert.deepEqual(event?.metadata, { method: "operator_reset", via: "cli" });
  } finally {
    await after.close();
  }
});
