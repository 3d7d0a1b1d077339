// Threat: a landing page that runs inline or third-party script can be turned against the token in
// its own address (an injected script reads it). The built-in pages run only this origin's static
// script under a CSP without 'unsafe-inline', and load nothing from elsewhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../../test/harness.js";
import { SETUP_PATH } from "../accounts/first-admin.js";
import { PAGES } from "../mail/index.js";
import { SCRIPT_PATH, STYLE_PATH } from "./index.js";

test("each built-in page is served under a strict CSP, with no inline script or style and nothing from another origin", async () => {
  const t = await startApp({ env: { APP_NAME: "Acme <Notes>" } });
  try {
    for (const path of [...Object.values(PAGES), SETUP_PATH]) {
      const res = await t.app.inject({ method: "GET", url: `${path}?token=abc` });
      assert.equal(res.statusCode, 200, path);
      assert.match(String(res.headers["content-type"]), /^text\/html/);
      const csp = String(res.headers["content-security-policy"]);
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
      assert.equal(res.headers["referrer-policy"], "no-referrer");
      const html = res.body;
      assert.doesNotMatch(
        html,
        /<script>|<script [^>]*>[^<]+<\/script>|<style|\sstyle=|\son[a-z]+=/i,
        `${path}: nothing inline`,
      );
      assert.doesNotMatch(html, /(?:src|href)="(?:https?:)?\/\//, `${path}: nothing from another origin`);
      assert.match(html, /Acme &lt;Notes&gt;/, "the app name, escaped");
      assert.doesNotMatch(html, /Acme <Notes>/);
    }
    const script = await t.app.inject({ method: "GET", url: SCRIPT_PATH });
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers["content-type"]), /javascript/);
    assert.match(script.body, /replaceState/, "the token is taken out of the address bar");
    const style = await t.app.inject({ method: "GET", url: STYLE_PATH });
    assert.equal(style.statusCode, 200);
    assert.match(String(style.headers["content-type"]), /text\/css/);
  } finally {
    await t.close();
  }
});

test("every input of a page has a label", async () => {
  const t = await startApp();
  try {
    for (const path of [...Object.values(PAGES), SETUP_PATH]) {
      const html = (await t.app.inject({ method: "GET", url: path })).body;
      for (const [, id] of html.matchAll(/<input id="([^"]+)"/g))
        assert.match(html, new RegExp(`<label for="${id}">`), `${path} ${id}`);
    }
  } finally {
    await t.close();
  }
});

test("with FRONTEND_URL the mailed links' pages are the front end's, but the first admin's setup page is still served", async () => {
  const t = await startApp({ env: { FRONTEND_URL: "https://app.example.com" } });
  try {
    assert.equal((await t.app.inject({ method: "GET", url: PAGES.verify_email })).statusCode, 404);
    const setup = await t.app.inject({ method: "GET", url: SETUP_PATH });
    assert.equal(setup.statusCode, 200);
    assert.match(setup.body, /data-api="\/api\/setup\/admin"/);
    assert.equal((await t.app.inject({ method: "GET", url: SCRIPT_PATH })).statusCode, 200);
  } finally {
    await t.close();
  }
});
