// Cookie-mode defects: each session cookie sent once per response (a browser keeps the last of a
// duplicate, so two differing CSRF values break the page at random), and a refresh a browser makes
// with `Content-Type: application/json` and no body works like one without a content type.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { register } from "../../../test/identity.js";

let t: TestApp;
before(async () => {
  t = await startApp({
    env: { RATE_LIMIT_PER_MINUTE: "10000", AUTH_LOGIN_PER_MINUTE: "1000", AUTH_REGISTER_PER_MINUTE: "1000" },
  });
});
after(() => t.close());

/** The names of the cookies a response sets, in order. */
const cookieNames = (header: string | string[] | undefined): string[] =>
  (Array.isArray(header) ? header : header === undefined ? [] : [header]).map((line) => line.split("=")[0]!);

async function cookieLogin() {
  const user = await register(t.app);
  const res = await t.app.inject({
    method: "POST",
    url: "/api/auth/login",
    payload: { login: user.username, password: user.password, use_cookies: true },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res;
}

test("a cookie-mode login sets each cookie exactly once", async () => {
  const res = await cookieLogin();
  assert.deepEqual(cookieNames(res.headers["set-cookie"]).sort(), [
    "bulwark_access",
    "bulwark_csrf",
    "bulwark_device",
    "bulwark_refresh",
  ]);
});

test("a cookie-mode refresh with an empty JSON body is answered like one without a body", async () => {
  const login = await cookieLogin();
  const jar = Object.fromEntries(
    (login.headers["set-cookie"] as string[]).map((line) => line.split(";")[0]!.split("=") as [string, string]),
  );
  const cookie = Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
  const res = await t.app.inject({
    method: "POST",
    url: "/api/auth/refresh",
    headers: { cookie, "x-csrf-token": jar.bulwark_csrf!, "content-type": "application/json" },
    payload: "",
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(cookieNames(res.headers["set-cookie"]).sort(), [
    "bulwark_access",
    "bulwark_csrf",
    "bulwark_refresh",
  ]);
  assert.equal(res.json().access_token, undefined, "cookie mode keeps tokens out of the body");
});

test("an empty JSON body on a route that needs one is still a 400 in the envelope", async () => {
  const res = await t.app.inject({
    method: "POST",
    url: "/api/auth/login",
    headers: { "content-type": "application/json" },
    payload: "",
  });
  assert.equal(res.statusCode, 400);
  assert.equal(typeof res.json().error.code, "string");
});
