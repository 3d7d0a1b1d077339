// Links that land: the outbox mail holds the link verbatim (a developer can copy it), `bulwark mail
// latest` prints it, FRONTEND_URL moves every link to the team's front end, and a `redirect_to`
// outside the allow-list is refused, since it would mail a genuine token to a page of anyone's choosing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startApp } from "../../../test/harness.js";
import { register } from "../../../test/identity.js";
import { startSmtp, tokenIn } from "../../../test/mail.js";
import { mailCommand } from "../../cli/mail.js";
import { captureOutput } from "../../cli/output.js";

test("the outbox mail holds the verification link verbatim, and `bulwark mail latest` prints it", async () => {
  const t = await startApp();
  try {
    await register(t.app, { email: "links@example.com" });
    await t.app.bulwark.mailer.idle();
    const dir = join(t.config.dataDir, "outbox");
    const [file] = readdirSync(dir);
    const raw = readFileSync(join(dir, file!), "utf8");
    const link = new RegExp(
      `${t.config.publicUrl.replace(/[.]/g, "\\.")}/verify-email\\?token=[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])`,
    );
    assert.match(raw, link, "the link is whole in the file");
    assert.doesNotMatch(raw, /quoted-printable|=3D/);
    const out = captureOutput();
    assert.equal(await mailCommand(["latest"], out, { DATA_DIR: t.config.dataDir }), 0);
    const printed = out.lines.join("\n");
    assert.match(printed, /To: +links@example.com/);
    assert.match(printed, /Subject: +Bulwark: confirm your email address/);
    assert.match(printed, link);
    const none = captureOutput();
    assert.equal(await mailCommand(["latest", "--to", "nobody@example.com"], none, { DATA_DIR: t.config.dataDir }), 1);
  } finally {
    await t.close();
  }
});

test("with FRONTEND_URL every mailed link lands on the front end; redirect_to must be under an allowed prefix", async () => {
  const smtp = await startSmtp();
  const t = await startApp({
    env: {
      SMTP_URL: smtp.url,
      FRONTEND_URL: "https://app.example.com/",
      REDIRECT_URLS: "https://admin.example.com/welcome",
      AUTH_LOGIN_PER_MINUTE: "100",
      AUTH_REGISTER_PER_MINUTE: "100",
    },
  });
  try {
    await register(t.app, { email: "front@example.com" });
    await t.app.bulwark.mailer.idle();
    assert.match(
      smtp.to("front@example.com")[0]!.body,
      /https:\/\/app\.example\.com\/verify-email\?token=[A-Za-z0-9_-]{43}/,
    );
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/verify-email" })).statusCode,
      404,
      "no built-in pages beside a front end",
    );

    const forgot = (redirect_to?: string) =>
      t.app.inject({
        method: "POST",
        url: "/api/auth/password/forgot",
        payload: { email: "front@example.com", ...(redirect_to ? { redirect_to } : {}) },
      });
    assert.equal((await forgot()).statusCode, 202);
    await t.app.bulwark.mailer.idle();
    assert.match(smtp.to("front@example.com", "reset")[0]!.body, /https:\/\/app\.example\.com\/reset-password\?token=/);

    assert.equal((await forgot("https://admin.example.com/welcome/reset?x=1")).statusCode, 202);
    await t.app.bulwark.mailer.idle();
    const redirected = smtp.to("front@example.com", "reset")[1]!;
    assert.match(redirected.body, /https:\/\/admin\.example\.com\/welcome\/reset\?x=1&token=/);
    assert.ok(tokenIn(redirected));

    for (const bad of [
      "https://evil.example/reset",
      "https://admin.example.com/welcomeX",
      "https://app.example.com.evil.example/",
      "javascript:alert(1)",
      "https://user@app.example.com/",
    ]) {
      const res = await forgot(bad);
      assert.equal(res.statusCode, 400, bad);
      assert.equal(res.json().error.details[0].path, "redirect_to");
    }
    const reg = await t.app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: {
        username: "redir_bad",
        email: "redir@example.com",
        password: "Lantern quietly orchard 42",
        redirect_to: "https://evil.example/",
      },
    });
    assert.equal(reg.statusCode, 400);
    await t.app.bulwark.mailer.idle();
    assert.equal(smtp.to("front@example.com", "reset").length, 2, "refused requests mail nothing");
    assert.equal(smtp.to("redir@example.com").length, 0);
  } finally {
    await t.close();
    await smtp.close();
  }
});
