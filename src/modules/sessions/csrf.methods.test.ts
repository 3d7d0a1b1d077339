// Threat: cross-site request forgery with a method other than POST or PATCH (a forged DELETE or PUT from another site, riding the browser's cookies).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Type } from "typebox";
import { startApp, type TestApp } from "../../../test/harness.js";
import { login, register } from "../../../test/identity.js";

let t: TestApp;
/** How many times each probe route ran its handler: a refused request must not reach it. */
const ran: Record<string, number> = {};
const UNSAFE = ["POST", "PUT", "PATCH", "DELETE"] as const;
const SAFE = ["GET", "HEAD", "OPTIONS"] as const;

before(async () => {
  t = await startApp({
    env: {
      RATE_LIMIT_PER_MINUTE: "10000",
      SENSITIVE_PER_MINUTE: "1000",
      AUTH_REGISTER_PER_MINUTE: "1000",
      AUTH_LOGIN_PER_MINUTE: "1000",
    },
    // One cookie-authenticated route per method, as an application built on Bulwark adds them.
    extend: (app) => {
      // GET brings HEAD with it.
      for (const method of [...UNSAFE, "GET", "OPTIONS"] as const) {
        const body =
          method === "GET" || method === "OPTIONS"
            ? {}
            : { body: Type.Object({ v: Type.Optional(Type.String()) }, { additionalProperties: false }) };
        app.route({
          method,
          url: "/probe",
          schema: body,
          config: { auth: "user", rateLimit: "default" },
          handler: async () => {
            ran[method] = (ran[method] ?? 0) + 1;
            return { ok: true };
          },
        });
      }
    },
  });
});
after(() => t.close());

/** Signs in with use_cookies and returns the Cookie header and the CSRF token a page would echo. */
async function browser(): Promise<{ cookie: string; csrf: string }> {
  const user = await register(t.app);
  const res = await login(t.app, user, { use_cookies: true });
  assert.equal(res.statusCode, 200, res.body);
  const jar = Object.fromEntries(
    (res.headers["set-cookie"] as string[]).map((line) => line.split(";")[0]!.split("=") as [string, string]),
  );
  return {
    cookie: Object.entries(jar)
      .map(([k, v]) => `${k}=${v}`)
      .join("; "),
    csrf: jar.bulwark_csrf!,
  };
}

const payloadFor = (method: string) =>
  method === "POST" || method === "PUT" || method === "PATCH" ? { v: "x" } : undefined;

for (const method of UNSAFE) {
  test(`${method} with cookies and no X-CSRF-Token, or a wrong one, is refused before the handler runs`, async () => {
    const { cookie, csrf } = await browser();
    const before = ran[method] ?? 0;
    for (const headers of [{ cookie }, { cookie, "x-csrf-token": `${csrf}x` }, { cookie, "x-csrf-token": "" }]) {
      const res = await t.app.inject({ method, url: "/probe", headers, payload: payloadFor(method) });
      assert.equal(res.statusCode, 403, `${method} ${JSON.stringify(Object.keys(headers))}`);
      assert.equal(res.json().error.code, "forbidden");
    }
    assert.equal(ran[method] ?? 0, before, `${method} handler never ran`);
    // Control: the same request with the token echoed goes through, so the 403s above were the CSRF rule.
    const ok = await t.app.inject({
      method,
      url: "/probe",
      headers: { cookie, "x-csrf-token": csrf },
      payload: payloadFor(method),
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ran[method], before + 1);
  });
}

for (const method of SAFE) {
  test(`${method} is a safe method: cookies authenticate it without a token`, async () => {
    const { cookie } = await browser();
    const res = await t.app.inject({ method, url: "/probe", headers: { cookie } });
    assert.equal(res.statusCode, 200, `${method}: ${res.body}`);
  });
}

test("a forged DELETE /api/sessions (sign out everywhere else) without the token ends no session", async () => {
  const user = await register(t.app);
  const other = await login(t.app, user);
  assert.equal(other.statusCode, 200);
  const res = await login(t.app, user, { use_cookies: true });
  const jar = Object.fromEntries(
    (res.headers["set-cookie"] as string[]).map((line) => line.split(";")[0]!.split("=") as [string, string]),
  );
  const cookie = Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
  const forged = await t.app.inject({
    method: "DELETE",
    url: "/api/sessions",
    headers: { cookie, origin: "http://localhost:3000" },
  });
  assert.equal(forged.statusCode, 403);
  // The other device is still signed in.
  const me = await t.app.inject({
    method: "GET",
    url: "/api/users/me",
    headers: { authorization: `Bearer ${other.json().access_token}` },
  });
  assert.equal(me.statusCode, 200);
  const honest = await t.app.inject({
    method: "DELETE",
    url: "/api/sessions",
    headers: { cookie, "x-csrf-token": jar.bulwark_csrf! },
  });
  assert.equal(honest.statusCode, 204, honest.body);
  assert.equal(
    (
      await t.app.inject({
        method: "GET",
        url: "/api/users/me",
        headers: { authorization: `Bearer ${other.json().access_token}` },
      })
    ).statusCode,
    401,
  );
});
