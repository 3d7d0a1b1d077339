// Threat: whoever held a session minted an API key; the owner changes the password and believes the
// intruder is out, while the key (which a password change does not end) keeps working unseen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { bearer, goodPassword, signedIn } from "../../../test/identity.js";
import { startSmtp } from "../../../test/mail.js";

test("the password-changed notice lists the owner's live API keys by name and prefix, never a secret", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url, SENSITIVE_PER_MINUTE: "100" } });
  try {
    const user = await signedIn(t.app);
    const planted = await t.app.bulwark.apiKeys.create(
      user.userId,
      { name: "backup-sync", scopes: [] },
      { userId: user.userId },
    );
    const revoked = await t.app.bulwark.apiKeys.create(
      user.userId,
      { name: "old-one", scopes: [] },
      { userId: user.userId },
    );
    await t.app.bulwark.apiKeys.revoke(revoked.id, {
      userId: user.userId,
      reason: "user",
      actor: { userId: user.userId },
    });
    const res = await t.app.inject({
      method: "POST",
      url: "/api/users/me/password",
      headers: bearer(user.access),
      payload: { current_password: user.password, new_password: goodPassword() },
    });
    assert.equal(res.statusCode, 204, res.body);
    await t.app.bulwark.mailer.idle();
    const [mail] = smtp.to(user.email, "password was changed");
    assert.ok(mail, "the notice went out");
    assert.ok(mail.body.includes("backup-sync"), "the live key is named");
    assert.ok(mail.body.includes(planted.prefix), "with its public prefix");
    assert.equal(mail.body.includes(planted.key), false, "never the key itself");
    assert.equal(
      mail.body.includes(planted.key.slice(planted.prefix.length, planted.prefix.length + 12)),
      false,
      "nor any of its secret part",
    );
    assert.equal(mail.body.includes("old-one"), false, "a revoked key is not listed");
  } finally {
    await t.close();
    await smtp.close();
  }
});
