// Scenario across modules: every security event docs/webhooks.md lists reaches a subscribed endpoint, signed
// per Standard Webhooks and verified by the official package, from the module that causes it.
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { Webhook } from "standardwebhooks";
import { createFakeClock } from "../src/core/clock.js";
import { startApp } from "./harness.js";
import { bearer, goodPassword, login, signedIn, stepUp } from "./identity.js";
import { startSmtp, tokenIn } from "./mail.js";
import { codeAt, enableTotp } from "./mfa.js";
import { signedInAdmin } from "./webhooks.js";

const EVENTS = [
  "user.created",
  "auth.lockout",
  "auth.token_reuse",
  "session.revoked",
  "password.changed",
  "password.reset",
  "mfa.enabled",
  "mfa.disabled",
  "api_key.created",
  "api_key.revoked",
  "user.disabled",
];

test("each security event of docs/webhooks.md is delivered, signed, from the module that causes it", async (t) => {
  const got: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const smtp = await startSmtp();
  t.after(() => smtp.close());
  // The receiver checks signature timestamps against the real time.
  const app = await startApp({
    clock: createFakeClock(Date.now()),
    env: {
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      SMTP_URL: smtp.url,
      RATE_LIMIT_PER_MINUTE: "1000",
      AUTH_LOGIN_PER_MINUTE: "1000",
      AUTH_REGISTER_PER_MINUTE: "1000",
      SENSITIVE_PER_MINUTE: "1000",
    },
  });
  t.after(() => app.close());
  const inject = app.app.inject.bind(app.app);

  const admin = await signedInAdmin(app.app);
  const endpoint = await inject({
    method: "POST",
    url: "/api/admin/webhook-endpoints",
    headers: { authorization: admin.authorization },
    payload: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/in`, events: EVENTS },
  });
  assert.equal(endpoint.statusCode, 201, endpoint.body);
  const secret = endpoint.json().secret as string;

  // user.created
  const user = await signedIn(app.app);
  // api_key.created, api_key.revoked
  await stepUp(app.app, user);
  const key = await inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(user.access),
    payload: { name: "ci", scopes: ["files:read"] },
  });
  assert.equal(key.statusCode, 201, key.body);
  assert.equal(
    (await inject({ method: "DELETE", url: `/api/keys/${key.json().id}`, headers: bearer(user.access) })).statusCode,
    204,
  );
  // mfa.enabled, mfa.disabled
  const totp = await enableTotp(app, user);
  const disabled = await inject({
    method: "POST",
    url: "/api/auth/mfa/totp/disable",
    headers: bearer(user.access),
    payload: { password: user.password, code: codeAt(totp.secret, app.clock.now()) },
  });
  assert.equal(disabled.statusCode, 204, disabled.body);
  // password.changed
  const newPassword = goodPassword();
  assert.equal(
    (
      await inject({
        method: "POST",
        url: "/api/users/me/password",
        headers: bearer(user.access),
        payload: { current_password: user.password, new_password: newPassword },
      })
    ).statusCode,
    204,
  );
  // password.reset (which also ends the sessions)
  assert.equal(
    (await inject({ method: "POST", url: "/api/auth/password/forgot", payload: { email: user.email } })).statusCode,
    202,
  );
  await app.app.bulwark.mailer.idle();
  const reset = await inject({
    method: "POST",
    url: "/api/auth/password/reset",
    payload: { token: tokenIn(smtp.to(user.email, "reset your password")[0]), new_password: goodPassword() },
  });
  assert.equal(reset.statusCode, 204, reset.body);
  // session.revoked: a user ends their other sessions
  const other = await signedIn(app.app);
  assert.equal(
    (await inject({ method: "DELETE", url: "/api/sessions", headers: bearer(other.access) })).statusCode,
    204,
  );
  // auth.token_reuse: a rotated refresh token presented again after the grace
  const refreshed = await inject({
    method: "POST",
    url: "/api/auth/refresh",
    payload: { refresh_token: other.refresh },
  });
  assert.equal(refreshed.statusCode, 200, refreshed.body);
  app.clock.advance(11_000);
  assert.equal(
    (await inject({ method: "POST", url: "/api/auth/refresh", payload: { refresh_token: other.refresh } })).json().error
      .code,
    "token_reused",
  );
  // auth.lockout
  for (let i = 0; i < 5; i++) await login(app.app, { username: other.username, password: "not the password at all" });
  // user.disabled
  assert.equal(
    (
      await inject({
        method: "POST",
        url: `/api/admin/users/${other.userId}/disable`,
        headers: { authorization: admin.authorization },
      })
    ).statusCode,
    204,
  );

  await app.app.bulwark.webhooks.runDue();
  const received = got.map(
    (r) =>
      new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as {
        type: string;
        data: { user_id?: string };
      },
  );
  const types = new Set(received.map((e) => e.type));
  assert.deepEqual(
    EVENTS.filter((e) => !types.has(e)),
    [],
    `every event arrived: ${[...types].join(", ")}`,
  );
  assert.ok(
    received
      .filter((e) => e.type.startsWith("api_key.") || e.type.startsWith("mfa."))
      .every((e) => e.data.user_id === user.userId),
    "events name their user",
  );
  // Nothing secret travels: no key, no TOTP secret, no reset token.
  const bodies = got.map((r) => r.body).join("\n");
  assert.ok(!bodies.includes(key.json().key as string) && !bodies.includes(totp.secret));
});
