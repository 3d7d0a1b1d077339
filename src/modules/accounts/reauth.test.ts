// Threat: a stolen session (or a stolen password without the phone) changes the email, the password
// or two-factor itself and takes the account over. Each needs the current password, and a TOTP or
// recovery code when two-factor is on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { bearer, goodPassword, signedIn } from "../../../test/identity.js";
import { codeAt, enableTotp } from "../../../test/mfa.js";

test("changing the email needs the current password, and a code when two-factor is on", async () => {
  const t = await startApp({ env: { SENSITIVE_PER_MINUTE: "100" } });
  try {
    const user = await signedIn(t.app);
    const patch = (payload: Record<string, unknown>) =>
      t.app.inject({ method: "PATCH", url: "/api/users/me", headers: bearer(user.access), payload });
    assert.equal((await patch({ email: "a1@example.com" })).statusCode, 400, "no password");
    assert.equal(
      (await patch({ email: "a1@example.com", current_password: "not the password at all" })).statusCode,
      403,
    );
    const { secret, recoveryCodes } = await enableTotp(t, user);
    const noCode = await patch({ email: "a2@example.com", current_password: user.password });
    assert.equal(noCode.statusCode, 400);
    assert.equal(noCode.json().error.details[0].path, "code");
    const right = codeAt(secret, t.clock.now());
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, "0");
    assert.equal(
      (await patch({ email: "a2@example.com", current_password: user.password, code: wrong })).statusCode,
      403,
    );
    assert.equal(
      (await patch({ email: "a2@example.com", current_password: "not the password at all", code: right })).statusCode,
      403,
    );
    const ok = await patch({ email: "a2@example.com", current_password: user.password, code: right });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().user.email, "a2@example.com");
    assert.equal(
      (await patch({ email: "a3@example.com", current_password: user.password, code: right })).statusCode,
      403,
      "the code was used",
    );
    assert.equal(
      (await patch({ email: "a3@example.com", current_password: user.password, code: recoveryCodes[0]! })).statusCode,
      200,
      "a recovery code also works",
    );
    assert.equal((await patch({ display_name: "Ada" })).statusCode, 200, "harmless fields need nothing");
  } finally {
    await t.close();
  }
});

test("changing the password needs a code when two-factor is on", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const { secret } = await enableTotp(t, user);
    const change = (payload: Record<string, unknown>) =>
      t.app.inject({ method: "POST", url: "/api/users/me/password", headers: bearer(user.access), payload });
    const fresh = goodPassword();
    assert.equal(
      (await change({ current_password: user.password, new_password: fresh })).statusCode,
      400,
      "code required",
    );
    assert.equal(
      (
        await change({
          current_password: user.password,
          new_password: fresh,
          code: "000000" === codeAt(secret, t.clock.now()) ? "111111" : "000000",
        })
      ).statusCode,
      403,
    );
    assert.equal(
      (await change({ current_password: user.password, new_password: fresh, code: codeAt(secret, t.clock.now()) }))
        .statusCode,
      204,
    );
  } finally {
    await t.close();
  }
});

test("setting up, enabling and disabling two-factor need the user's own session and password", async () => {
  const t = await startApp();
  try {
    for (const url of ["/api/auth/mfa/totp/setup", "/api/auth/mfa/totp/enable", "/api/auth/mfa/totp/disable"]) {
      assert.equal((await t.app.inject({ method: "POST", url, payload: {} })).statusCode, 401, url);
    }
    const user = await signedIn(t.app);
    const { secret } = await enableTotp(t, user);
    // Setting up again over an enabled secret would let a session holder swap the phone: refused.
    const again = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/setup",
      headers: bearer(user.access),
      payload: { password: user.password },
    });
    assert.equal(again.statusCode, 400);
    const disable = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/disable",
      headers: bearer(user.access),
      payload: { code: codeAt(secret, t.clock.now()) },
    });
    assert.equal(disable.statusCode, 400, "the password is required");
  } finally {
    await t.close();
  }
});
