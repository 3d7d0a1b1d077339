// TOTP two-factor through the HTTP API: setup, enable, login with a code or a recovery code, disable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { startApp } from "../../../test/harness.js";
import { bearer, login, signedIn } from "../../../test/identity.js";
import { codeAt, enableTotp, mfaToken, verifyMfa } from "../../../test/mfa.js";

test("setup re-authenticates, returns a secret, an otpauth URL and an SVG QR code; the secret is stored encrypted", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const wrong = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/setup",
      headers: bearer(user.access),
      payload: { password: "not the password at all" },
    });
    assert.equal(wrong.statusCode, 403);
    const missing = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/setup",
      headers: bearer(user.access),
      payload: {},
    });
    assert.equal(missing.statusCode, 400);
    const res = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/setup",
      headers: bearer(user.access),
      payload: { password: user.password },
    });
    assert.equal(res.statusCode, 200, res.body);
    const { secret, otpauth_url, qr_svg } = res.json() as { secret: string; otpauth_url: string; qr_svg: string };
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.ok(otpauth_url.startsWith("otpauth://totp/"));
    assert.match(qr_svg, /<svg[\s\S]*<\/svg>/);
    const rows = await t.store.db.execute(sql`select secret from mfa_totp`);
    const stored = JSON.stringify(rows);
    assert.ok(stored.includes("bw1."), "a keyring envelope");
    assert.equal(stored.includes(secret), false, "never the secret in the clear");
    // Not on until a code proves the app has it.
    assert.equal(
      (await t.app.inject({ url: "/api/users/me", headers: bearer(user.access) })).json().user.mfa_enabled,
      false,
    );
    assert.equal((await login(t.app, user)).json().mfa_required, undefined);
    const audit = (await t.app.bulwark.audit.query({ eventType: "mfa.totp_setup" })).events;
    assert.deepEqual(audit.map((e) => e.result).sort(), ["failure", "failure", "success"], "refusals are audited too");
    assert.equal(audit[0]!.target, user.userId);
    assert.equal(JSON.stringify(audit).includes(secret), false);
  } finally {
    await t.close();
  }
});

test("enable needs a valid code and returns 10 recovery codes once, stored hashed", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const setup = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/setup",
      headers: bearer(user.access),
      payload: { password: user.password },
    });
    const secret = setup.json().secret as string;
    const right = codeAt(secret, t.clock.now());
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, "0");
    const bad = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/enable",
      headers: bearer(user.access),
      payload: { code: wrong },
    });
    assert.equal(bad.statusCode, 403);
    const ok = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/enable",
      headers: bearer(user.access),
      payload: { code: right },
    });
    assert.equal(ok.statusCode, 200, ok.body);
    const codes = ok.json().recovery_codes as string[];
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const c of codes) assert.match(c, /^[a-z2-7]{5}-[a-z2-7]{5}$/);
    const stored = JSON.stringify(await t.store.db.execute(sql`select code_hash from mfa_recovery_codes`));
    for (const c of codes) assert.equal(stored.includes(c) || stored.includes(c.replace("-", "")), false);
    assert.equal(
      (await t.app.inject({ url: "/api/users/me", headers: bearer(user.access) })).json().user.mfa_enabled,
      true,
    );
    const again = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/enable",
      headers: bearer(user.access),
      payload: { code: codeAt(secret, t.clock.now() + 30_000) },
    });
    assert.equal(again.statusCode, 400, "already on: no second set of codes");
    assert.equal((await t.app.bulwark.audit.query({ eventType: "mfa.enable", result: "success" })).events.length, 1);
  } finally {
    await t.close();
  }
});

test("a TOTP user's login answers mfa_required; the mfa_token and a code give the token pair", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const { secret } = await enableTotp(t, user);
    const res = await login(t.app, user);
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ["expires_in", "mfa_required", "mfa_token"]);
    assert.equal(body.expires_in, 300);
    assert.equal(res.headers["set-cookie"], undefined);
    const done = await verifyMfa(t, body.mfa_token, codeAt(secret, t.clock.now()));
    assert.equal(done.statusCode, 200, done.body);
    const pair = done.json();
    assert.ok(pair.access_token && pair.refresh_token && pair.session_id && pair.device_token);
    assert.equal((await t.app.inject({ url: "/api/users/me", headers: bearer(pair.access_token) })).statusCode, 200);
    // The token works once.
    t.clock.advance(30_000);
    assert.equal((await verifyMfa(t, body.mfa_token, codeAt(secret, t.clock.now()))).statusCode, 401);
    const logins = (await t.app.bulwark.audit.query({ eventType: "auth.login", result: "success" })).events;
    assert.equal(logins[0]!.metadata.mfa, true);
    assert.equal((await t.app.bulwark.audit.query({ eventType: "mfa.verify", result: "success" })).events.length, 1);
  } finally {
    await t.close();
  }
});

test("cookie mode: the cookies are set by mfa/verify when the login asked for them", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const { secret } = await enableTotp(t, user);
    const token = await mfaToken(t, user, { use_cookies: true });
    const res = await verifyMfa(t, token, codeAt(secret, t.clock.now()));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().access_token, undefined, "tokens only in HttpOnly cookies");
    const cookies = String(res.headers["set-cookie"]);
    assert.match(cookies, /bulwark_access=/);
    assert.match(cookies, /bulwark_device=/);
  } finally {
    await t.close();
  }
});

test("the mfa_token expires after 5 minutes", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const { secret } = await enableTotp(t, user);
    const token = await mfaToken(t, user);
    t.clock.advance(301_000);
    const res = await verifyMfa(t, token, codeAt(secret, t.clock.now()));
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, "invalid_credentials");
  } finally {
    await t.close();
  }
});

test("recovery codes sign in once each", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const { recoveryCodes } = await enableTotp(t, user);
    const first = await verifyMfa(t, await mfaToken(t, user), recoveryCodes[0]!.toUpperCase());
    assert.equal(first.statusCode, 200, "case and dashes do not matter");
    const reused = await verifyMfa(t, await mfaToken(t, user), recoveryCodes[0]!);
    assert.equal(reused.statusCode, 401);
    assert.equal((await verifyMfa(t, await mfaToken(t, user), recoveryCodes[1]!.replace("-", ""))).statusCode, 200);
    const used = (await t.app.bulwark.audit.query({ eventType: "mfa.recovery_code_used" })).events;
    assert.equal(used.length, 2);
    assert.equal(used[0]!.metadata.remaining, 8);
    assert.equal(JSON.stringify(used).includes(recoveryCodes[0]!), false);
  } finally {
    await t.close();
  }
});

test("disable needs the password and a TOTP or recovery code; afterwards the password alone signs in", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const { secret, recoveryCodes } = await enableTotp(t, user);
    const call = (payload: Record<string, unknown>) =>
      t.app.inject({ method: "POST", url: "/api/auth/mfa/totp/disable", headers: bearer(user.access), payload });
    assert.equal((await call({ password: user.password })).statusCode, 400, "code is required");
    assert.equal(
      (await call({ password: "not the password at all", code: codeAt(secret, t.clock.now()) })).statusCode,
      403,
    );
    t.clock.advance(30_000);
    assert.equal(
      (await call({ password: user.password, code: "000000" === codeAt(secret, t.clock.now()) ? "111111" : "000000" }))
        .statusCode,
      403,
    );
    assert.equal((await call({ password: user.password, code: recoveryCodes[3]! })).statusCode, 204);
    assert.equal(
      (await t.app.inject({ url: "/api/users/me", headers: bearer(user.access) })).json().user.mfa_enabled,
      false,
    );
    const res = await login(t.app, user);
    assert.ok(res.json().access_token, "no second factor any more");
    assert.equal((await t.app.bulwark.audit.query({ eventType: "mfa.disable", result: "success" })).events.length, 1);
  } finally {
    await t.close();
  }
});
