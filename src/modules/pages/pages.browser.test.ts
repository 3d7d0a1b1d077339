// The links in Bulwark's mails work out of the box: in a real browser, a newcomer registers, opens
// the mailed link, confirms the address with the keyboard alone; forgets the password and sets a
// new one on the reset page. No CSP violation is reported on the way (nothing inline ran).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { Browser, Page } from "playwright-core";
import { launchChromium, needsChromium } from "../../../test/browser.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { goodPassword, login, register } from "../../../test/identity.js";
import { readOutboxMail } from "../../cli/mail.js";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const skip = needsChromium();
let t: TestApp;
let browser: Browser;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

before(async () => {
  if (skip) return;
  const port = await freePort();
  t = await startApp({
    env: {
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      APP_NAME: "Acme Notes",
      AUTH_LOGIN_PER_MINUTE: "100",
      AUTH_REGISTER_PER_MINUTE: "100",
    },
  });
  await t.app.listen({ host: "127.0.0.1", port });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await t?.close();
});

/** The newest outbox mail to `to` whose subject contains `subject`: its one link. */
async function mailedLink(to: string, subject: string): Promise<string> {
  await t.app.bulwark.mailer.idle();
  const dir = join(t.config.dataDir, "outbox");
  const mail = readdirSync(dir)
    .sort()
    .reverse()
    .map((f) => readOutboxMail(join(dir, f)))
    .find((m) => m.to === to && m.subject.includes(subject));
  assert.ok(mail, `a mail to ${to} about ${subject}`);
  assert.equal(mail.links.length, 1);
  return mail.links[0]!;
}

/** A page that records CSP violations and script errors. */
async function open(url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(url);
  return { page, problems };
}

test("register, open the mailed link, confirm with the keyboard: the address is verified", { skip }, async () => {
  const user = await register(t.app, { email: "browser-verify@example.com" });
  const link = await mailedLink(user.email, "confirm your email");
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/verify-email\?token=/);
  const { page, problems } = await open(link);
  assert.equal(await page.title(), "Confirm your email address · Acme Notes");
  assert.equal(new URL(page.url()).search, "", "the token is out of the address bar");
  // Keyboard only: Tab reaches the button, Enter presses it.
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate("document.activeElement && document.activeElement.tagName"), "BUTTON");
  await page.keyboard.press("Enter");
  await page.getByText("Your email address is confirmed").waitFor();
  const signedIn = await login(t.app, user);
  const me = await t.app.inject({
    method: "GET",
    url: "/api/users/me",
    headers: { authorization: `Bearer ${signedIn.json().access_token}` },
  });
  assert.equal(me.json().user.email_verified, true);
  assert.deepEqual(problems, []);
  await page.close();
});

test(
  "forgot password, open the mailed link, set a new password on the page: the new one signs in",
  { skip },
  async () => {
    const user = await register(t.app, { email: "browser-reset@example.com" });
    assert.equal(
      (await t.app.inject({ method: "POST", url: "/api/auth/password/forgot", payload: { email: user.email } }))
        .statusCode,
      202,
    );
    const link = await mailedLink(user.email, "reset your password");
    const { page, problems } = await open(link);
    const fresh = goodPassword();
    await page.getByLabel("New password", { exact: true }).fill(fresh);
    await page.getByLabel("Repeat the new password").fill(`${fresh}x`);
    await page.getByLabel("Repeat the new password").press("Enter");
    await page.getByText("The two passwords differ").waitFor();
    await page.getByLabel("Repeat the new password").fill(fresh);
    await page.getByRole("button", { name: "Set the new password" }).press("Enter");
    await page.getByText("Your password is changed").waitFor();
    assert.equal((await login(t.app, { username: user.username, password: fresh })).statusCode, 200);
    assert.equal((await login(t.app, user)).statusCode, 401, "the old password is gone");

    // The same link again: the page shows the API's refusal, it does not pretend.
    const again = await open(link);
    await again.page.getByLabel("New password", { exact: true }).fill(goodPassword());
    await again.page
      .getByLabel("Repeat the new password")
      .fill(await again.page.getByLabel("New password", { exact: true }).inputValue());
    await again.page.getByRole("button", { name: "Set the new password" }).click();
    await again.page.getByText(/invalid, used or expired/).waitFor();
    assert.deepEqual(problems, []);
    await page.close();
    await again.page.close();
  },
);

test("an admin invites an address; the mailed link's page creates the account", { skip }, async () => {
  const admin = await register(t.app, { email: "browser-admin@example.com" });
  await t.app.bulwark.accounts.promote(admin.username, { userId: null });
  const access = (await login(t.app, admin)).json().access_token as string;
  const created = await t.app.inject({
    method: "POST",
    url: "/api/admin/invitations",
    headers: { authorization: `Bearer ${access}` },
    payload: { email: "browser-invitee@example.com" },
  });
  assert.equal(created.statusCode, 201, created.body);
  const link = await mailedLink("browser-invitee@example.com", "invited");
  assert.match(link, /\/accept-invite\?token=/);
  const { page, problems } = await open(link);
  const password = goodPassword();
  await page.getByLabel("Username").fill("invited_in_browser");
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByLabel("Repeat the new password").fill(password);
  await page.getByLabel("Repeat the new password").press("Enter");
  await page.getByText("Your account is ready").waitFor();
  const signedIn = await login(t.app, { username: "invited_in_browser", password });
  assert.equal(signedIn.statusCode, 200, signedIn.body);
  assert.deepEqual(problems, []);
  await page.close();
});
