// Branding: APP_NAME names the product in subjects, bodies and the authenticator app; a team's own
// templates replace the built-in ones, and every value they insert is escaped in HTML, so an
// APP_NAME or a user agent cannot inject markup into a mail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../../../test/harness.js";
import { bearer, register, signedIn } from "../../../test/identity.js";
import { startSmtp } from "../../../test/mail.js";
import { createMailRenderer } from "./index.js";

test("APP_NAME is in the subject and body of mails and is the TOTP issuer", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url, APP_NAME: "Acme Notes" } });
  try {
    const user = await signedIn(t.app);
    await t.app.bulwark.mailer.idle();
    const mail = smtp.to(user.email)[0]!;
    assert.equal(mail.subject, "Acme Notes: confirm your email address");
    assert.match(mail.body, /Acme Notes/);
    assert.doesNotMatch(mail.raw, /Bulwark/, "the product's name, not the engine's");
    const setup = await t.app.inject({
      method: "POST",
      url: "/api/auth/mfa/totp/setup",
      headers: bearer(user.access),
      payload: { password: user.password },
    });
    assert.equal(setup.statusCode, 200, setup.body);
    const url = new URL(setup.json().otpauth_url);
    assert.equal(url.searchParams.get("issuer"), "Acme Notes");
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("templates from MAIL_TEMPLATES_DIR replace the built-in parts; values are escaped in HTML", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-templates-"));
  writeFileSync(join(dir, "verify_email.subject.txt"), "Welcome to {{ app_name }}\n");
  writeFileSync(join(dir, "verify_email.html"), '<h1>{{app_name}}</h1><a href="{{link}}">Confirm</a>');
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url, APP_NAME: "Acme <b>Notes</b>", MAIL_TEMPLATES_DIR: dir } });
  try {
    await register(t.app, { email: "templated@example.com" });
    await t.app.bulwark.mailer.idle();
    const mail = smtp.to("templated@example.com")[0]!;
    assert.match(mail.subject, /Welcome to/);
    const html = mail.body.slice(mail.body.indexOf("Content-Type: text/html"));
    assert.match(html, /<h1>Acme &lt;b&gt;Notes&lt;\/b&gt;<\/h1>/);
    assert.doesNotMatch(html, /<b>Notes<\/b>/);
    assert.match(html, /href="http:\/\/[^"]+\/verify-email\?token=[A-Za-z0-9_-]{43}"/);
    assert.match(mail.body, /Confirm your email address:/, "the text part stays built-in");
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("a template with an unknown variable or file name is refused at start, naming it", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-templates-"));
  writeFileSync(join(dir, "password_reset.txt"), "Reset: {{lnik}}");
  assert.throws(() => createMailRenderer({ appName: "A", templatesDir: dir }), /password_reset\.txt uses \{\{lnik\}\}/);
  const other = mkdtempSync(join(tmpdir(), "bulwark-templates-"));
  writeFileSync(join(other, "welcome.txt"), "Hi");
  assert.throws(() => createMailRenderer({ appName: "A", templatesDir: other }), /welcome\.txt is not a template file/);
});

test("a subject template cannot add a header: line breaks in values become spaces", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-templates-"));
  writeFileSync(join(dir, "new_sign_in.subject.txt"), "Sign-in from {{user_agent}}");
  const render = createMailRenderer({ appName: "A", templatesDir: dir });
  const mail = render({
    type: "new_sign_in",
    ip: null,
    userAgent: "x\r\nBcc: victim@example.com",
    time: "t",
    sessionsLink: "https://a.example/s",
  });
  assert.doesNotMatch(mail.subject, /[\r\n]/);
});
