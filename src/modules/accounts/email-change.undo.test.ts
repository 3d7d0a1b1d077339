// Threat: an intruder with a session and the password moves the account's email to their own
// address; from then on password resets go to them and the owner has no way back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { bearer, login, signedIn } from "../../../test/identity.js";
import { startSmtp, tokenIn } from "../../../test/mail.js";

const env = { SENSITIVE_PER_MINUTE: "100", AUTH_LOGIN_PER_MINUTE: "100" };

test("an email change is announced to the old address, whose link restores it and ends every session", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { ...env, SMTP_URL: smtp.url } });
  try {
    const owner = await signedIn(t.app);
    const intruder = (await login(t.app, owner)).json().access_token as string;
    const changed = await t.app.inject({
      method: "PATCH",
      url: "/api/users/me",
      headers: bearer(intruder),
      payload: { email: "intruder@example.net", current_password: owner.password },
    });
    assert.equal(changed.statusCode, 200, changed.body);
    await t.app.bulwark.mailer.idle();
    const [notice] = smtp.to(owner.email, "email address of your account was changed");
    assert.ok(notice, "the old address is told");
    assert.equal(
      notice.body.includes("intruder@example.net"),
      false,
      "the notice does not carry the new address (chosen by whoever changed it)",
    );
    const token = tokenIn(notice);
    assert.ok(notice.body.includes(`${t.config.publicUrl}/undo-email-change?token=${token}`));

    const undo = (value = token) =>
      t.app.inject({ method: "POST", url: "/api/auth/email/undo", payload: { token: value } });
    const res = await undo();
    assert.equal(res.statusCode, 204, res.body);
    const user = await t.app.bulwark.accounts.byUsername(owner.username);
    assert.equal(user?.email, owner.email, "the old address is back");
    assert.equal(user?.email_verified, true, "and proven by the click");
    for (const access of [intruder, owner.access]) {
      assert.equal(
        (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(access) })).statusCode,
        401,
        "every session ended",
      );
    }
    assert.equal((await undo()).statusCode, 400, "single use");
    // A reset now goes to the owner, not the intruder.
    await t.app.inject({
      method: "POST",
      url: "/api/auth/password/forgot",
      payload: { email: "intruder@example.net" },
    });
    await t.app.inject({ method: "POST", url: "/api/auth/password/forgot", payload: { email: owner.email } });
    await t.app.bulwark.mailer.idle();
    assert.equal(smtp.to("intruder@example.net", "reset your password").length, 0);
    assert.equal(smtp.to(owner.email, "reset your password").length, 1);
    assert.equal(
      (await t.app.bulwark.audit.query({ eventType: "email.change_undone" })).events.filter(
        (e) => e.result === "success",
      ).length,
      1,
    );
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("the undo link expires after 7 days, and an intruder's later change cannot be undone back over the owner's undo", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { ...env, SMTP_URL: smtp.url } });
  try {
    const owner = await signedIn(t.app);
    const patch = (email: string) =>
      t.app.inject({
        method: "PATCH",
        url: "/api/users/me",
        headers: bearer(owner.access),
        payload: { email, current_password: owner.password },
      });
    assert.equal((await patch("first@example.net")).statusCode, 200);
    assert.equal((await patch("second@example.net")).statusCode, 200);
    await t.app.bulwark.mailer.idle();
    const ownerUndo = tokenIn(smtp.to(owner.email, "was changed")[0]);
    const laterUndo = tokenIn(smtp.to("first@example.net", "was changed")[0]);
    const undo = (token: string) => t.app.inject({ method: "POST", url: "/api/auth/email/undo", payload: { token } });
    assert.equal((await undo(ownerUndo)).statusCode, 204);
    assert.equal((await undo(laterUndo)).statusCode, 400, "the later change's link died with the owner's undo");
    assert.equal((await t.app.bulwark.accounts.byUsername(owner.username))?.email, owner.email);

    const other = await signedIn(t.app);
    await t.app.inject({
      method: "PATCH",
      url: "/api/users/me",
      headers: bearer(other.access),
      payload: { email: "third@example.net", current_password: other.password },
    });
    await t.app.bulwark.mailer.idle();
    const stale = tokenIn(smtp.to(other.email, "was changed")[0]);
    t.clock.advance(7 * 86_400_000 + 1000);
    assert.equal((await undo(stale)).statusCode, 400, "expired");
  } finally {
    await t.close();
    await smtp.close();
  }
});
