// Threat: a stolen session (an XSS'd tab, a borrowed laptop) mints an API key, which outlives the
// session and every sign-out: creating a key needs a step-up within the last few minutes (sudo mode).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { bearer, login, signedIn } from "../../../test/identity.js";
import { codeAt, enableTotp } from "../../../test/mfa.js";

const env = { SENSITIVE_PER_MINUTE: "1000", AUTH_LOGIN_PER_MINUTE: "1000", STEP_UP_TTL: "300" };

test("creating an API key without a recent step-up answers 403 step_up_required", async () => {
  const t = await startApp({ env });
  try {
    const user = await signedIn(t.app);
    const create = (access = user.access) =>
      t.app.inject({ method: "POST", url: "/api/keys", headers: bearer(access), payload: { name: "ci", scopes: [] } });
    const stepUp = (payload: Record<string, unknown>, access = user.access) =>
      t.app.inject({ method: "POST", url: "/api/auth/step-up", headers: bearer(access), payload });
    const refused = await create();
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().error.code, "step_up_required");
    assert.equal((await t.app.bulwark.apiKeys.list(user.userId)).length, 0, "nothing was created");
    assert.equal(
      (await stepUp({ password: "not the password at all" })).statusCode,
      403,
      "a wrong password is no step-up",
    );
    assert.equal((await stepUp({})).statusCode, 400, "a password or a code is needed");
    assert.equal((await create()).statusCode, 403);
    const ok = await stepUp({ password: user.password });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().step_up_expires_at, new Date(t.clock.now() + 300_000).toISOString());
    assert.equal((await create()).statusCode, 201, "within the step-up window");
    // Another session of the same user has not stepped up.
    const other = (await login(t.app, user)).json().access_token as string;
    assert.equal((await create(other)).json().error.code, "step_up_required");
    // The window closes.
    t.clock.advance(301_000);
    assert.equal((await create()).json().error.code, "step_up_required", "sudo mode lasts STEP_UP_TTL seconds");
    const events = (await t.app.bulwark.audit.query({ eventType: "auth.step_up" })).events.map((e) => e.result).sort();
    assert.deepEqual(events, ["failure", "success"]);
  } finally {
    await t.close();
  }
});

test("with two-factor on, a TOTP code alone is a step-up; without two-factor a code is refused", async () => {
  const t = await startApp({ env });
  try {
    const plain = await signedIn(t.app);
    const noMfa = await t.app.inject({
      method: "POST",
      url: "/api/auth/step-up",
      headers: bearer(plain.access),
      payload: { code: "123456" },
    });
    assert.equal(noMfa.statusCode, 400);
    const user = await signedIn(t.app);
    const { secret } = await enableTotp(t, user);
    const stepUp = await t.app.inject({
      method: "POST",
      url: "/api/auth/step-up",
      headers: bearer(user.access),
      payload: { code: codeAt(secret, t.clock.now()) },
    });
    assert.equal(stepUp.statusCode, 200, stepUp.body);
    assert.equal(
      (
        await t.app.inject({
          method: "POST",
          url: "/api/keys",
          headers: bearer(user.access),
          payload: { name: "ci", scopes: [] },
        })
      ).statusCode,
      201,
    );
    const replay = await t.app.inject({
      method: "POST",
      url: "/api/auth/step-up",
      headers: bearer(user.access),
      payload: { code: codeAt(secret, t.clock.now()) },
    });
    assert.equal(replay.statusCode, 403, "a used code is no step-up");
  } finally {
    await t.close();
  }
});
