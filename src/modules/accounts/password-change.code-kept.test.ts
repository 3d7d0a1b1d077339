// A refused new password must not use up the two-factor code: the user fixes the password and
// submits again within the same 30 seconds; burning the code first would lock them out until the
// next step (and make every policy refusal cost a code).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { bearer, goodPassword, signedIn } from "../../../test/identity.js";
import { codeAt, enableTotp } from "../../../test/mfa.js";

test("a new password the policy refuses leaves the TOTP code usable", async () => {
  const t = await startApp({ env: { SENSITIVE_PER_MINUTE: "100" } });
  try {
    const user = await signedIn(t.app);
    const { secret } = await enableTotp(t, user);
    t.clock.advance(30_000);
    const code = codeAt(secret, t.clock.now());
    const change = (new_password: string) =>
      t.app.inject({
        method: "POST",
        url: "/api/users/me/password",
        headers: bearer(user.access),
        payload: { current_password: user.password, new_password, code },
      });
    const weak = await change("password1234");
    assert.equal(weak.statusCode, 400, weak.body);
    const ok = await change(goodPassword());
    assert.equal(ok.statusCode, 204, ok.body);
  } finally {
    await t.close();
  }
});
