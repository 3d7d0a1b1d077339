// Attack: registering with someone else's email and a display name that is a message (markup, fake instructions, header breaks), so Bulwark's own mail carries it to the victim.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../../../test/harness.js";
import { goodPassword } from "../../../test/identity.js";
import { startSmtp } from "../../../test/mail.js";
import { createMailer } from "./mailer.js";
import type { MailTemplate } from "./templates.js";

const PHISH = "<script>alert(1)</script> URGENT: your account is locked, call +1 555 0100 now";

test("a mail sent to an address never carries the display name or username chosen by whoever registered it", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url } });
  try {
    const register = (username: string, display_name: string) =>
      t.app.inject({
        method: "POST",
        url: "/api/auth/register",
        payload: { username, email: "victim@example.com", password: goodPassword(), display_name },
      });
    const res = await register("urgent_call_now", PHISH);
    assert.equal(res.statusCode, 201, res.body);
    await t.app.bulwark.mailer.idle();
    const mail = smtp.to("victim@example.com")[0];
    assert.ok(mail, "the verification mail went out");
    for (const text of [PHISH, "<script>", "&lt;script&gt;", "URGENT", "urgent_call_now"]) {
      assert.equal(
        mail.raw.includes(text) || mail.body.includes(text),
        false,
        `the mail does not contain ${JSON.stringify(text)}`,
      );
    }
    assert.doesNotMatch(mail.subject, /urgent|script/i);

    // Header breaks, other control characters and very long names are refused at the door.
    for (const name of ["Ada\r\nBcc: everyone@example.com", "Ada\u0000", "Ada\u202Egnp.exe", "A".repeat(101)]) {
      const refused = await register(`u${Math.random().toString(36).slice(2, 10)}`, name);
      assert.equal(refused.statusCode, 400, JSON.stringify(name));
    }
    await t.app.bulwark.mailer.idle();
    assert.equal(smtp.mails.length, 1, "nothing else was mailed");
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("the mailer never puts the account's name in a mail, however the name came to be (import, an outside provider)", async () => {
  const outboxDir = mkdtempSync(join(tmpdir(), "bulwark-outbox-"));
  const mailer = createMailer({
    smtpUrl: undefined,
    from: "Bulwark <no-reply@example.com>",
    outboxDir,
    log: { info() {}, warn() {}, error() {} },
  });
  const name = `Ada\r\nSubject: hacked\r\n\r\n<b>${"x".repeat(5000)}</b>`;
  const templates: MailTemplate[] = [
    { type: "verify_email", link: "https://app.example/verify-email?token=t" },
    { type: "password_reset", link: "https://app.example/reset-password?token=t", expiresMinutes: 30 },
    { type: "lockout", until: "u", resetLink: "https://app.example/reset-password" },
  ];
  try {
    for (const template of templates) mailer.send({ to: "ada@example.com", name, userId: null, template });
    await mailer.idle();
    const files = readdirSync(outboxDir);
    assert.equal(files.length, templates.length);
    for (const file of files) {
      const raw = readFileSync(join(outboxDir, file), "utf8");
      for (const text of ["Ada", "hacked", "xxxxx"])
        assert.equal(raw.includes(text), false, `${file} contains ${text}`);
    }
  } finally {
    await mailer.close();
  }
});
