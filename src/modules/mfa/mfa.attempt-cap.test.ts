// Threat: brute-forcing the 10^6 TOTP codes with a stolen password: at most 5 guesses per mfa_token,
// and a per-user back-off once wrong codes pile up across tokens.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { signedIn } from "../../../test/identity.js";
import { codeAt, enableTotp, mfaToken, verifyMfa } from "../../../test/mfa.js";

const wrongCode = (right: string, i: number) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, "0");

test("an mfa_token dies after 5 wrong codes, even for the right code after them", async () => {
  const t = await startApp({ env: { AUTH_LOGIN_PER_MINUTE: "100" } });
  try {
    const user = await signedIn(t.app);
    const { secret } = await enableTotp(t, user);
    const token = await mfaToken(t, user);
    const right = codeAt(secret, t.clock.now());
    for (let i = 0; i < 5; i++) assert.equal((await verifyMfa(t, token, wrongCode(right, i))).statusCode, 401);
    const sixth = await verifyMfa(t, token, right);
    assert.equal(sixth.statusCode, 401);
    assert.equal(sixth.json().error.code, "invalid_credentials");
  } finally {
    await t.close();
  }
});

test("beyond 5 wrong codes the user backs off (429 with Retry-After) whatever the token; time lifts it", async () => {
  const t = await startApp({ env: { AUTH_LOGIN_PER_MINUTE: "100" } });
  try {
    const user = await signedIn(t.app);
    const { secret } = await enableTotp(t, user);
    const right = codeAt(secret, t.clock.now());
    // Spread over two tokens: the back-off counts the user's failures, not the token's.
    const first = await mfaToken(t, user);
    for (let i = 0; i < 3; i++) await verifyMfa(t, first, wrongCode(right, i));
    const second = await mfaToken(t, user);
    for (let i = 3; i < 5; i++) await verifyMfa(t, second, wrongCode(right, i));
    const fresh = await mfaToken(t, user);
    const locked = await verifyMfa(t, fresh, codeAt(secret, t.clock.now()));
    assert.equal(locked.statusCode, 429, "even the right code waits");
    assert.ok(Number(locked.headers["retry-after"]) >= 1);
    const denied = (await t.app.bulwark.audit.query({ eventType: "mfa.verify", result: "denied" })).events;
    assert.equal(denied[0]!.metadata.reason, "backoff");
    t.clock.advance(31_000);
    const ok = await verifyMfa(t, await mfaToken(t, user), codeAt(secret, t.clock.now()));
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal((await t.app.bulwark.audit.query({ eventType: "mfa.verify", result: "failure" })).events.length, 5);
  } finally {
    await t.close();
  }
});
