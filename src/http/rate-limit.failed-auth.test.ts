// Attack: credential guessing with credentials a resolver recognises and refuses (forged or expired tokens, unknown or revoked API keys), hoping failures are not counted.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { randomBase62, randomToken } from "../core/crypto/index.js";
import { checksum, KEY_PREFIX } from "../modules/api-keys/index.js";
import { startApp, type TestApp } from "../../test/harness.js";
import { bearer, signedIn } from "../../test/identity.js";

let t: TestApp;
/** Credentials that a resolver claims as its own and then refuses, each for a different reason. */
const refusedCredentials: { what: string; headers: () => Record<string, string> }[] = [];

/** A well-formed API key (right shape, right checksum) that was never issued. */
function unknownKey(): string {
  const body = `${KEY_PREFIX}${randomBytes(16).toString("hex")}_${randomBase62(40)}`;
  return body + checksum(body);
}

before(async () => {
  // A budget of 3 a minute per client; setup requests come from 127.0.0.1, the attacker from elsewhere.
  t = await startApp({
    env: {
      RATE_LIMIT_PER_MINUTE: "3",
      AUTH_REGISTER_PER_MINUTE: "100",
      AUTH_LOGIN_PER_MINUTE: "100",
      SENSITIVE_PER_MINUTE: "100",
    },
  });
  const user = await signedIn(t.app);
  const created = await t.app.bulwark.apiKeys.create(
    user.userId,
    { name: "doomed", scopes: ["notes:read"] },
    { userId: user.userId, ip: null, userAgent: null },
  );
  assert.equal(
    await t.app.bulwark.apiKeys.revoke(created.id, {
      userId: user.userId,
      reason: "test",
      actor: { userId: user.userId, ip: null, userAgent: null },
    }),
    true,
  );
  const expiredAccess = user.access;
  // Every access token of this user is past its lifetime from here on.
  t.clock.advance((t.config.accessTokenTtl + 60) * 1000);
  refusedCredentials.push(
    {
      what: "a forged JWT (well-formed, bad signature)",
      headers: () => bearer(`eyJhbGciOiJFZERTQSJ9.${randomToken(24)}.${randomToken(43)}`),
    },
    { what: "an expired Bulwark access token", headers: () => bearer(expiredAccess) },
    { what: "a well-formed API key that was never issued", headers: () => bearer(unknownKey()) },
    { what: "a revoked API key (X-API-Key)", headers: () => ({ "x-api-key": created.key }) },
  );
});
after(() => t.close());

test("each credential used below is claimed by a resolver and refused (401), not ignored as anonymous", async () => {
  for (const [i, credential] of refusedCredentials.entries()) {
    const res = await t.app.inject({
      method: "GET",
      url: "/api/users/me",
      remoteAddress: `198.51.100.${i + 1}`,
      headers: credential.headers(),
    });
    assert.equal(res.statusCode, 401, credential.what);
    // An anonymous request is refused as "authentication required"; these were looked at and refused.
    assert.notEqual(res.json().error.message, "authentication required", credential.what);
    assert.match(
      String(res.headers.ratelimit),
      /^"minute";r=2;t=\d+$/,
      `${credential.what}: the refused request was counted`,
    );
  }
});

for (const [index, route] of [
  ["GET", "/api/users/me"],
  ["GET", "/api/admin/audit-logs"],
  ["DELETE", "/api/sessions"],
].entries()) {
  test(`failed authentications spend the client's budget: ${route[0]} ${route[1]} gets 429 after three refused credentials`, async () => {
    for (const [i, credential] of refusedCredentials.entries()) {
      const ip = `203.0.${113 - index}.${10 + i}`;
      const statuses: number[] = [];
      for (let n = 0; n < 5; n++) {
        const res = await t.app.inject({
          method: route[0] as "GET" | "DELETE",
          url: route[1]!,
          remoteAddress: ip,
          headers: credential.headers(),
        });
        statuses.push(res.statusCode);
      }
      assert.deepEqual(statuses, [401, 401, 401, 429, 429], `${credential.what} on ${route[1]}`);
    }
  });
}
