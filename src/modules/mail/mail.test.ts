// Mail delivery: over real SMTP (an in-process server), retried when refused, never failing the
// action it reports, and to `.eml` files in DATA_DIR/outbox when no SMTP_URL is set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { AuditService } from "../audit/index.js";
import { captureLog, startApp } from "../../../test/harness.js";
import { register } from "../../../test/identity.js";
import { startSmtp, tokenIn } from "../../../test/mail.js";
import { createMailer, requiresStartTls } from "./index.js";
import { escapeHtml, renderMail, type MailTemplate } from "./templates.js";

test("with SMTP_URL, mails go over SMTP from MAIL_FROM, as text and HTML; mail.sent is audited without the link", async () => {
  const smtp = await startSmtp();
  const t = await startApp({ env: { SMTP_URL: smtp.url, MAIL_FROM: "Example Security <security@example.com>" } });
  try {
    const res = await t.app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: {
        username: "eve_html",
        email: "eve@example.com",
        password: "Lantern quietly orchard 42",
        display_name: "<b>Eve</b>",
      },
    });
    assert.equal(res.statusCode, 201);
    await t.app.bulwark.mailer.idle();
    const mail = smtp.to("eve@example.com")[0]!;
    assert.equal(mail.from, "security@example.com");
    assert.match(mail.raw, /Content-Type: text\/plain/);
    assert.match(mail.raw, /Content-Type: text\/html/);
    assert.equal(
      mail.body.includes("Eve"),
      false,
      "the display name is not in the mail at all (mail.attacker-text.test.ts)",
    );
    assert.equal(/<b>Eve<\/b><\/p>/.test(mail.body), false);
    const token = tokenIn(mail);
    const sent = (await t.app.bulwark.audit.query({ eventType: "mail.sent" })).events;
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.result, "success");
    assert.equal(sent[0]!.metadata.template, "verify_email");
    assert.equal(JSON.stringify(sent).includes(token), false);
    assert.equal(JSON.stringify(sent).includes("verify-email"), false, "no link in the audit");
  } finally {
    await t.close();
    await smtp.close();
  }
});

test("a refused delivery is retried with back-off until the server takes it", async () => {
  const smtp = await startSmtp({ reject: 2 });
  const log = captureLog();
  const recorded: string[] = [];
  const audit: Pick<AuditService, "record"> = {
    record: async (event) => {
      recorded.push(`${event.eventType}:${event.result}:${String(event.metadata?.attempts)}`);
    },
  };
  const mailer = createMailer({
    smtpUrl: smtp.url,
    from: "a@example.com",
    outboxDir: "/nonexistent",
    log: {
      info: () => undefined,
      warn: (o, m) => log.lines.push(`${m} ${JSON.stringify(o)}`),
      error: (o, m) => log.lines.push(`${m} ${JSON.stringify(o)}`),
    },
    audit,
    retry: { attempts: 5, baseMs: 5 },
  });
  try {
    mailer.send({
      to: "bob@example.com",
      name: "Bob",
      userId: null,
      template: { type: "password_reset", link: "http://x.test/reset-password?token=SECRETSECRET", expiresMinutes: 30 },
    });
    await mailer.idle();
    assert.equal(smtp.mails.length, 1);
    assert.deepEqual(recorded, ["mail.sent:success:3"]);
    assert.equal(log.lines.filter((l) => l.includes("will retry")).length, 2);
    assert.equal(log.text().includes("SECRETSECRET"), false, "the link never reaches the log");
  } finally {
    await mailer.close();
    await smtp.close();
  }
});

test("a mail that cannot be delivered loses neither the action nor the secret, and says nothing to the caller", async () => {
  const down = await startSmtp();
  const url = down.url;
  await down.close();
  const log = captureLog();
  const t = await startApp({ env: { SMTP_URL: url }, log: log.stream });
  try {
    const user = await register(t.app);
    const known = await t.app.inject({
      method: "POST",
      url: "/api/auth/password/forgot",
      payload: { email: user.email },
    });
    const unknown = await t.app.inject({
      method: "POST",
      url: "/api/auth/password/forgot",
      payload: { email: "none@example.com" },
    });
    assert.equal(known.statusCode, 202);
    assert.equal(known.body, unknown.body);
    assert.equal(
      (
        await t.app.inject({
          method: "POST",
          url: "/api/auth/login",
          payload: { login: user.username, password: user.password },
        })
      ).statusCode,
      200,
    );
  } finally {
    await t.close();
  }
  assert.ok(log.text().includes("mail delivery failed"), "the failure is logged");
  assert.equal(/token=/.test(log.text()), false);
});

test("without SMTP_URL, each mail is an .eml file under DATA_DIR/outbox (mode 0600); the log has its path, not the token", async () => {
  const log = captureLog();
  const t = await startApp({ log: log.stream });
  try {
    await register(t.app, { email: "outbox-user@example.com" });
    await t.app.bulwark.mailer.idle();
    const dir = join(t.config.dataDir, "outbox");
    const files = readdirSync(dir).filter((f) => f.endsWith(".eml"));
    assert.equal(files.length, 1);
    assert.match(files[0]!, /verify_email/);
    const raw = readFileSync(join(dir, files[0]!), "utf8");
    assert.match(raw, /To: outbox-user@example.com/);
    const token = tokenIn({
      from: "",
      to: [],
      raw,
      subject: "",
      body: raw.replace(/=\r?\n/g, "").replace(/=3D/g, "="),
    });
    assert.equal(statSync(join(dir, files[0]!)).mode & 0o777, 0o600);
    const line = log.lines.find((l) => l.includes("outbox"));
    assert.ok(line?.includes(files[0]!), "the path is logged, so a developer can open the mail");
    assert.equal(log.text().includes(token), false, "never the token");
  } finally {
    await t.close();
  }
});

test("templates escape HTML and carry the values of each notice", () => {
  const n = renderMail({
    type: "new_sign_in",
    ip: "203.0.113.9",
    userAgent: "<img src=x onerror=alert(1)>",
    time: "2026-01-01T12:00:00.000Z",
    sessionsLink: "https://app.example/account/sessions",
  });
  assert.ok(n.text.includes("203.0.113.9") && n.text.includes("2026-01-01T12:00:00.000Z"));
  assert.equal(n.html.includes("<img"), false);
  assert.ok(n.html.includes(escapeHtml("<img src=x onerror=alert(1)>")));
  const resetLink = "https://app.example/reset-password";
  const samples: MailTemplate[] = [
    { type: "mfa_enabled", time: "t" },
    { type: "mfa_disabled", time: "t", resetLink },
    { type: "lockout", until: "u", resetLink },
    { type: "password_changed", time: "t", resetLink },
  ];
  for (const template of samples) {
    const r = renderMail(template);
    assert.ok(r.subject.length > 0 && r.text.startsWith("Hello,"));
    if (template.type !== "mfa_enabled")
      assert.ok(r.text.includes(resetLink) && r.html.includes(`href="${resetLink}"`), template.type);
  }
});

test("smtp:// to another machine must upgrade with STARTTLS; smtps:// is TLS; a local relay may be plain", () => {
  assert.equal(requiresStartTls("smtp://user:pw@smtp.example.com:587"), true);
  assert.equal(requiresStartTls("smtps://user:pw@smtp.example.com:465"), false, "TLS from the first byte");
  assert.equal(requiresStartTls("smtp://127.0.0.1:25"), false);
  assert.equal(requiresStartTls("smtp://localhost:1025"), false);
  assert.equal(requiresStartTls("smtp://[::1]:25"), false);
});
