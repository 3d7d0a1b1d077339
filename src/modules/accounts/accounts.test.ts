import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import bcryptjs from "bcryptjs";
import { rowsOf } from "../../store/db.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, goodPassword, login, register, signedIn } from "../../../test/identity.js";

let t: TestApp;
before(async () => {
  t = await startApp({
    env: {
      RATE_LIMIT_PER_MINUTE: "10000",
      RATE_LIMIT_PER_HOUR: "100000",
      AUTH_REGISTER_PER_MINUTE: "1000",
      AUTH_LOGIN_PER_MINUTE: "1000",
      SENSITIVE_PER_MINUTE: "1000",
    },
  });
});
after(() => t.close());

test("register returns the user object of docs/identity.md and stores only an Argon2id hash", async () => {
  const password = goodPassword();
  const res = await t.app.inject({
    method: "POST",
    url: "/api/auth/register",
    payload: { username: "Carol_1", email: "Carol@Example.com", password, display_name: "Carol" },
  });
  assert.equal(res.statusCode, 201);
  const user = res.json().user;
  assert.deepEqual(Object.keys(user).sort(), [
    "birth_date",
    "created_at",
    "display_name",
    "email",
    "email_verified",
    "id",
    "mfa_enabled",
    "plan",
    "role",
    "username",
  ]);
  assert.equal(user.role, "user");
  assert.equal(user.email_verified, false);
  assert.doesNotMatch(res.body, /argon2|password/i);
  const [row] = rowsOf<{ password_hash: string }>(
    await t.store.db.execute(sql`select password_hash from users where id = ${user.id}`),
  );
  assert.match(row!.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal(row!.password_hash.includes(password), false);
});

test("usernames and emails are unique without regard to case", async () => {
  const first = await register(t.app);
  for (const payload of [
    { username: first.username.toUpperCase(), email: `other-${first.username}@example.com` },
    { username: `${first.username}x`, email: first.email.toUpperCase() },
  ]) {
    const res = await t.app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { ...payload, password: goodPassword() },
    });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().error.code, "conflict");
  }
});

test("registration refuses bad usernames, emails, display names and weak passwords, and creates nothing", async () => {
  const count = async () =>
    Number(rowsOf<{ n: string }>(await t.store.db.execute(sql`select count(*) as n from users`))[0]!.n);
  const before = await count();
  const cases = [
    { username: "ab", email: "a@example.com", password: goodPassword(), path: "username" },
    { username: "has space", email: "a@example.com", password: goodPassword(), path: "username" },
    { username: "ok_name", email: "not-an-email", password: goodPassword(), path: "email" },
    { username: "ok_name", email: "a@example.com", password: "short", path: "password" },
    { username: "ok_name", email: "a@example.com", password: "password1234", path: "password" },
    { username: "ok_name", email: "a@example.com", password: "ok_name-and-more-words", path: "password" },
    {
      username: "ok_name",
      email: "a@example.com",
      password: goodPassword(),
      display_name: "evil\u202Egnp.exe",
      path: "display_name",
    },
    { username: "ok_name", email: "a@example.com", password: goodPassword(), role: "admin", path: "role" },
  ];
  for (const { path, ...payload } of cases) {
    const res = await t.app.inject({ method: "POST", url: "/api/auth/register", payload });
    assert.equal(res.statusCode, 400, `${path}: ${res.body}`);
    assert.equal(res.json().error.details[0].path, path);
  }
  assert.equal(await count(), before);
});

test("a bcrypt hash imported from another backend verifies, and is re-hashed to Argon2id at login", async () => {
  const password = goodPassword();
  const hash = bcryptjs.hashSync(password, 4).replace(/^\$2b\$/, "$2y$");
  const result = await t.app.bulwark.accounts.importUsers({
    rows: [{ line: 1, username: "imported_dave", email: "dave@example.com", passwordHash: hash }],
  });
  assert.equal(result.imported, 1);
  const res = await login(t.app, { username: "imported_dave", password });
  assert.equal(res.statusCode, 200, res.body);
  const [row] = rowsOf<{ password_hash: string }>(
    await t.store.db.execute(sql`select password_hash from users where username = 'imported_dave'`),
  );
  assert.match(row!.password_hash, /^\$argon2id\$/);
  assert.equal((await login(t.app, { username: "imported_dave", password })).statusCode, 200, "the new hash verifies");
});

test("mass assignment: PATCH /api/users/me cannot set role, email_verified, plan or any unlisted field", async () => {
  const user = await signedIn(t.app);
  for (const field of [
    { role: "admin" },
    { email_verified: true },
    { plan: "pro" },
    { id: "x" },
    { mfa_enabled: true },
    { password_hash: "x" },
  ]) {
    const res = await t.app.inject({
      method: "PATCH",
      url: "/api/users/me",
      headers: bearer(user.access),
      payload: { display_name: "Eve", ...field },
    });
    assert.equal(res.statusCode, 400, JSON.stringify(field));
    assert.equal(res.json().error.details[0].message, "unknown field");
  }
  const me = (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(user.access) })).json().user;
  assert.equal(me.role, "user");
  assert.equal(me.display_name, null, "the refused request changed nothing");
});

test("PATCH /api/users/me updates the profile; an email change needs the current password and resets verification", async () => {
  const user = await signedIn(t.app);
  const ok = await t.app.inject({
    method: "PATCH",
    url: "/api/users/me",
    headers: bearer(user.access),
    payload: { display_name: "Frank", birth_date: "1990-04-01" },
  });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().user.display_name, "Frank");
  assert.equal(ok.json().user.birth_date, "1990-04-01");
  for (const birth_date of ["2999-01-01", "1990-02-30", "yesterday"]) {
    const res = await t.app.inject({
      method: "PATCH",
      url: "/api/users/me",
      headers: bearer(user.access),
      payload: { birth_date },
    });
    assert.equal(res.statusCode, 400, birth_date);
  }
  const noPassword = await t.app.inject({
    method: "PATCH",
    url: "/api/users/me",
    headers: bearer(user.access),
    payload: { email: "new-frank@example.com" },
  });
  assert.equal(noPassword.statusCode, 400);
  const wrong = await t.app.inject({
    method: "PATCH",
    url: "/api/users/me",
    headers: bearer(user.access),
    payload: { email: "new-frank@example.com", current_password: "wrong password here" },
  });
  assert.equal(wrong.statusCode, 403);
  await t.store.db.execute(sql`update users set email_verified = true where id = ${user.userId}`);
  const changed = await t.app.inject({
    method: "PATCH",
    url: "/api/users/me",
    headers: bearer(user.access),
    payload: { email: "new-frank@example.com", current_password: user.password },
  });
  assert.equal(changed.statusCode, 200);
  assert.equal(changed.json().user.email, "new-frank@example.com");
  assert.equal(changed.json().user.email_verified, false);
});

test("a password change needs the current password, applies the policy, and ends every other session", async () => {
  const user = await signedIn(t.app);
  const other = await login(t.app, user);
  const otherAccess = other.json().access_token as string;
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(otherAccess) })).statusCode,
    200,
  );
  const wrong = await t.app.inject({
    method: "POST",
    url: "/api/users/me/password",
    headers: bearer(user.access),
    payload: { current_password: "not it at all", new_password: goodPassword() },
  });
  assert.equal(wrong.statusCode, 403);
  const weak = await t.app.inject({
    method: "POST",
    url: "/api/users/me/password",
    headers: bearer(user.access),
    payload: { current_password: user.password, new_password: "password1234" },
  });
  assert.equal(weak.statusCode, 400);
  const next = goodPassword();
  const ok = await t.app.inject({
    method: "POST",
    url: "/api/users/me/password",
    headers: bearer(user.access),
    payload: { current_password: user.password, new_password: next },
  });
  assert.equal(ok.statusCode, 204);
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(otherAccess) })).statusCode,
    401,
    "the other session ended",
  );
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(user.access) })).statusCode,
    200,
    "this session goes on",
  );
  assert.equal((await login(t.app, { username: user.username, password: user.password })).statusCode, 401);
  assert.equal((await login(t.app, { username: user.username, password: next })).statusCode, 200);
});

test("admin guard: a user gets 403, an admin 200; disabling a user ends its sessions at once", async () => {
  const admin = await signedIn(t.app);
  await t.app.bulwark.accounts.promote(admin.username, { userId: null });
  const user = await signedIn(t.app);
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/admin/users", headers: bearer(user.access) })).statusCode,
    403,
  );
  const list = await t.app.inject({
    method: "GET",
    url: `/api/admin/users?q=${user.username}&limit=5`,
    headers: bearer(admin.access),
  });
  assert.equal(list.statusCode, 200);
  assert.deepEqual(
    list.json().users.map((u: { id: string }) => u.id),
    [user.userId],
  );
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/admin/audit-logs?limit=5", headers: bearer(admin.access) }))
      .statusCode,
    200,
  );

  const disable = await t.app.inject({
    method: "POST",
    url: `/api/admin/users/${user.userId}/disable`,
    headers: bearer(admin.access),
  });
  assert.equal(disable.statusCode, 204);
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(user.access) })).statusCode,
    401,
  );
  const refused = await login(t.app, user);
  assert.equal(refused.statusCode, 401);
  assert.equal(refused.json().error.code, "invalid_credentials");
  assert.equal(
    (
      await t.app.inject({
        method: "POST",
        url: `/api/admin/users/${user.userId}/enable`,
        headers: bearer(admin.access),
      })
    ).statusCode,
    204,
  );
  assert.equal((await login(t.app, user)).statusCode, 200);
  const events = (await t.app.bulwark.audit.query({ eventType: "user.disabled" })).events;
  assert.equal(events[0]?.actor.user_id, admin.userId, "admin actions are audited with the admin as actor");
  assert.equal(events[0]?.target, user.userId);
});

test("sessions: a user lists its sessions and ends one, or all but the current; someone else's is not found", async () => {
  const user = await signedIn(t.app);
  const second = (await login(t.app, user)).json();
  const list = await t.app.inject({ method: "GET", url: "/api/sessions", headers: bearer(user.access) });
  assert.equal(list.statusCode, 200);
  const sessions = list.json().sessions as { id: string; current: boolean }[];
  assert.equal(sessions.length, 2);
  assert.equal(sessions.find((s) => s.current)?.id, user.sessionId);
  const stranger = await signedIn(t.app);
  assert.equal(
    (await t.app.inject({ method: "DELETE", url: `/api/sessions/${user.sessionId}`, headers: bearer(stranger.access) }))
      .statusCode,
    404,
  );
  assert.equal(
    (await t.app.inject({ method: "DELETE", url: `/api/sessions/${second.session_id}`, headers: bearer(user.access) }))
      .statusCode,
    204,
  );
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(second.access_token) })).statusCode,
    401,
  );
  const third = (await login(t.app, user)).json();
  assert.equal(
    (await t.app.inject({ method: "DELETE", url: "/api/sessions", headers: bearer(user.access) })).statusCode,
    204,
  );
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(third.access_token) })).statusCode,
    401,
  );
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(user.access) })).statusCode,
    200,
  );
});

test("whoami names the principal", async () => {
  const user = await signedIn(t.app);
  const res = await t.app.inject({ method: "GET", url: "/api/whoami", headers: bearer(user.access) });
  assert.deepEqual(res.json(), {
    principal: { type: "user", user_id: user.userId, role: "user", session_id: user.sessionId },
  });
  assert.equal((await t.app.inject({ method: "GET", url: "/api/whoami" })).statusCode, 401);
});
