// Attack: a provider account carrying someone else's address (unverified, or spelled with look-alike characters) pre-claims the local account of that address or its admin role, and keeps access through the provider after the owner "recovers" it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { createSigner } from "fast-jwt";
import { randomToken } from "../../core/crypto/index.js";
import { rowsOf } from "../../store/db.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, goodPassword, login, register, signedIn } from "../../../test/identity.js";
import { startSmtp, tokenIn, type TestSmtp } from "../../../test/mail.js";

const ISSUER = "https://idp.test/auth/v1";
const AUDIENCE = "authenticated";
// Generated per run: no key material is committed.
const secret = randomToken(32);
let t: TestApp;
let smtp: TestSmtp;

before(async () => {
  smtp = await startSmtp();
  t = await startApp({
    env: {
      SMTP_URL: smtp.url,
      RATE_LIMIT_PER_MINUTE: "10000",
      AUTH_REGISTER_PER_MINUTE: "1000",
      AUTH_LOGIN_PER_MINUTE: "1000",
      EXTERNAL_JWT_ISSUER: ISSUER,
      EXTERNAL_JWT_AUDIENCE: AUDIENCE,
      EXTERNAL_JWT_SECRET: secret,
      ADMIN_EMAILS: "kelvin@example.com",
    },
  });
});
after(async () => {
  await t.close();
  await smtp.close();
});

/** A provider token made by fast-jwt, a different library from the one that verifies it. */
const token = (claims: Record<string, unknown>) =>
  createSigner({
    key: secret,
    algorithm: "HS256",
    iss: ISSUER,
    aud: AUDIENCE,
    expiresIn: 3_600_000,
    clockTimestamp: t.clock.now(),
  })(claims);
const whoami = (jwt: string) => t.app.inject({ method: "GET", url: "/api/whoami", headers: bearer(jwt) });
const subject = () => `sub-${randomToken(8)}`;
const forgot = (email: string) =>
  t.app.inject({ method: "POST", url: "/api/auth/password/forgot", payload: { email } });

test("an unverified provider email reserves nothing: its owner registers it, recovers it, and the provider user is someone else", async () => {
  const email = `victim-${randomToken(4)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "x")}@example.com`;
  const attacker = token({ sub: subject(), email, email_verified: false });
  const provisioned = await whoami(attacker);
  assert.equal(provisioned.statusCode, 200, provisioned.body);
  const attackerId = provisioned.json().principal.user_id as string;
  // Stored with the link, reserved by no account.
  const stored = rowsOf<{ email: string | null; email_verified: boolean }>(
    await t.store.db.execute(sql`select email, email_verified from external_identities where user_id = ${attackerId}`),
  );
  assert.deepEqual(stored, [{ email, email_verified: false }]);
  const owner = await register(t.app, { email, verified: false });
  assert.notEqual(owner.userId, attackerId);
  await forgot(email);
  await t.app.bulwark.mailer.idle();
  const password = goodPassword();
  const reset = await t.app.inject({
    method: "POST",
    url: "/api/auth/password/reset",
    payload: { token: tokenIn(smtp.to(email, "reset your password")[0]), new_password: password },
  });
  assert.equal(reset.statusCode, 204);
  const signedInOwner = await login(t.app, { username: owner.username, password });
  assert.equal(signedInOwner.statusCode, 200);
  // The provider token still reaches only the attacker's own, separate account.
  assert.equal((await whoami(attacker)).json().principal.user_id, attackerId);
  assert.notEqual(signedInOwner.json().access_token, undefined);
});

test("password reset and password login are refused for a provider account without a local password", async () => {
  const email = `provider-${randomToken(4)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "x")}@example.com`;
  const who = await whoami(
    token({
      sub: subject(),
      email,
      email_verified: true,
      preferred_username: `prov_${randomToken(4).replace(/[^A-Za-z0-9]/g, "x")}`,
    }),
  );
  assert.equal(who.statusCode, 200, who.body);
  const userId = who.json().principal.user_id as string;
  assert.equal((await forgot(email)).statusCode, 202, "the same answer as for anyone");
  await t.app.bulwark.mailer.idle();
  assert.equal(smtp.to(email).length, 0, "no reset link for an account that signs in through its provider");
  const refused = (
    await t.app.bulwark.audit.query({ eventType: "password.reset_request", result: "failure" })
  ).events.find((e) => e.target === userId);
  assert.equal(refused?.metadata.reason, "no_password");
  const me = rowsOf<{ username: string }>(
    await t.store.db.execute(sql`select username from users where id = ${userId}`),
  )[0]!;
  assert.equal((await login(t.app, { username: me.username, password: goodPassword() })).statusCode, 401);
});

test("a provider email spelled with the Kelvin sign (U+212A) is not an admin address", async () => {
  const kelvin = await whoami(token({ sub: subject(), email: "\u212Aelvin@example.com", email_verified: true }));
  assert.equal(kelvin.statusCode, 200, kelvin.body);
  assert.equal(kelvin.json().principal.role, "user");
  // Nor does it hold the ASCII address: its owner still gets in, as the admin.
  const ascii = await whoami(token({ sub: subject(), email: "Kelvin@example.com", email_verified: true }));
  assert.equal(ascii.statusCode, 200, ascii.body);
  assert.equal(ascii.json().principal.role, "admin", "the ASCII address is");
});

test("linking a provider identity to a local account is the signed-in owner's explicit, audited act", async () => {
  const local = await signedIn(t.app);
  const sub = subject();
  const jwt = token({ sub, email: local.email, email_verified: true });
  assert.equal((await whoami(jwt)).statusCode, 409, "never linked by email");
  const link = (headers: Record<string, string>, body: Record<string, unknown>) =>
    t.app.inject({ method: "POST", url: "/api/auth/external/link", headers, payload: body });
  assert.equal((await link({}, { token: jwt, current_password: local.password })).statusCode, 401, "signed-in only");
  assert.equal(
    (await link(bearer(local.access), { token: jwt, current_password: goodPassword() })).statusCode,
    403,
    "the password again",
  );
  assert.equal(
    (await link(bearer(local.access), { token: `${jwt}x`, current_password: local.password })).statusCode,
    400,
    "a valid provider token",
  );
  const linked = await link(bearer(local.access), { token: jwt, current_password: local.password });
  assert.equal(linked.statusCode, 204, linked.body);
  const who = await whoami(jwt);
  assert.equal(who.statusCode, 200);
  assert.equal(who.json().principal.user_id, local.userId);
  const event = (await t.app.bulwark.audit.query({ eventType: "external.link" })).events.find(
    (e) => e.target === local.userId,
  );
  assert.equal(event?.metadata.subject, sub);
  // An identity already linked is not moved by another account.
  const other = await signedIn(t.app);
  assert.equal((await link(bearer(other.access), { token: jwt, current_password: other.password })).statusCode, 409);
  // Password login keeps working for the local account (it has its own password).
  assert.equal((await login(t.app, local)).statusCode, 200);
});
