// Threat: a TOTP code replayed (seen over a shoulder, phished in real time), a code from outside the
// ±1 step window, or a guessed code is accepted as a second factor.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { signedIn } from "../../../test/identity.js";
import { codeAt, enableTotp, mfaToken, verifyMfa } from "../../../test/mfa.js";

test("a code is accepted once: the same code (same time step) is refused at the next login", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const { secret } = await enableTotp(t, user);
    const code = codeAt(secret, t.clock.now());
    assert.equal((await verifyMfa(t, await mfaToken(t, user), code)).statusCode, 200);
    t.clock.advance(5_000);
    const replay = await verifyMfa(t, await mfaToken(t, user), code);
    assert.equal(replay.statusCode, 401);
    // An earlier step is dead too once a later one was used.
    assert.equal((await verifyMfa(t, await mfaToken(t, user), codeAt(secret, t.clock.now() - 30_000))).statusCode, 401);
    const failures = (await t.app.bulwark.audit.query({ eventType: "mfa.verify", result: "failure" })).events;
    assert.deepEqual(
      failures.map((e) => e.metadata.reason),
      ["replayed", "replayed"],
    );
    assert.equal(JSON.stringify(failures).includes(code), false, "codes never reach the audit log");
    t.clock.advance(30_000);
    assert.equal(
      (await verifyMfa(t, await mfaToken(t, user), codeAt(secret, t.clock.now()))).statusCode,
      200,
      "the next step works",
    );
  } finally {
    await t.close();
  }
});

test("one step of skew is accepted; two steps either way are refused", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const { secret } = await enableTotp(t, user);
    const now = () => t.clock.now();
    // Past the step used to enable, so "one behind" is not a replay of it.
    t.clock.advance(60_000);
    assert.equal(
      (await verifyMfa(t, await mfaToken(t, user), codeAt(secret, now() - 60_000))).statusCode,
      401,
      "two steps behind",
    );
    assert.equal(
      (await verifyMfa(t, await mfaToken(t, user), codeAt(secret, now() + 60_000))).statusCode,
      401,
      "two steps ahead",
    );
    assert.equal(
      (await verifyMfa(t, await mfaToken(t, user), codeAt(secret, now() - 30_000))).statusCode,
      200,
      "one step behind",
    );
    t.clock.advance(90_000);
    assert.equal(
      (await verifyMfa(t, await mfaToken(t, user), codeAt(secret, now() + 30_000))).statusCode,
      200,
      "one step ahead",
    );
  } finally {
    await t.close();
  }
});

test("wrong codes, malformed codes and a code of another user's secret are refused", async () => {
  const t = await startApp();
  try {
    const alice = await signedIn(t.app);
    const bob = await signedIn(t.app);
    const a = await enableTotp(t, alice);
    const b = await enableTotp(t, bob);
    const right = codeAt(a.secret, t.clock.now());
    const wrong = String((Number(right) + 500_000) % 1_000_000).padStart(6, "0");
    assert.equal((await verifyMfa(t, await mfaToken(t, alice), wrong)).statusCode, 401);
    assert.equal((await verifyMfa(t, await mfaToken(t, alice), "12ab")).statusCode, 400);
    assert.equal(
      (await verifyMfa(t, await mfaToken(t, alice), b.recoveryCodes[0]!)).statusCode,
      401,
      "bob's recovery code",
    );
    if (codeAt(b.secret, t.clock.now()) !== right) {
      assert.equal(
        (await verifyMfa(t, await mfaToken(t, alice), codeAt(b.secret, t.clock.now()))).statusCode,
        401,
        "bob's TOTP code",
      );
    }
    assert.equal((await verifyMfa(t, await mfaToken(t, alice), right)).statusCode, 200);
  } finally {
    await t.close();
  }
});
