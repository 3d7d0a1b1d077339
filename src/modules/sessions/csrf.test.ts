// Threat: cross-site request forgery against a browser signed in with cookies.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { register } from "../../../test/identity.js";

let t: TestApp;
before(async () => {
  t = await startApp({
    env: {
      CORS_ORIGINS: "http://localhost:5173",
      RATE_LIMIT_PER_MINUTE: "10000",
      SENSITIVE_PER_MINUTE: "1000",
      AUTH_REGISTER_PER_MINUTE: "1000",
      AUTH_LOGIN_PER_MINUTE: "1000",
    },
  });
});
after(() => t.close());

/** Signs in with use_cookies and returns the cookies a browser would hold. */
async function browserLogin() {
  const user = await register(t.app);
  const res = await t.app.inject({
    method: "POST",
    url: "/api/auth/login",
    payload: { login: user.username, password: user.password, use_cookies: true },
  });
  assert.equal(res.statusCode, 200);
  const setCookies = res.headers["set-cookie"] as string[];
  const jar: Record<string, string> = {};
  for (const line of setCookies) {
    const [pair, ...attrs] = line.split("; ");
    const [name, value] = pair!.split("=");
    jar[name!] = value!;
    if (name !== "bulwark_csrf") assert.ok(attrs.includes("HttpOnly"), `${name} is HttpOnly`);
    assert.ok(attrs.includes("SameSite=Lax"), `${name} is SameSite=Lax`);
    assert.ok(attrs.includes("Path=/"));
  }
  assert.deepEqual(Object.keys(jar).sort(), ["bulwark_access", "bulwark_csrf", "bulwark_device", "bulwark_refresh"]);
  assert.equal(res.json().access_token, undefined, "in cookie mode tokens are not in the body");
  const cookie = Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
  return { user, jar, cookie };
}

const patch = (headers: Record<string, string>) =>
  t.app.inject({ method: "PATCH", url: "/api/users/me", headers, payload: { display_name: "Mallory was here" } });

test("cookies authenticate safe requests without a CSRF token", async () => {
  const { cookie } = await browserLogin();
  assert.equal((await t.app.inject({ method: "GET", url: "/api/users/me", headers: { cookie } })).statusCode, 200);
});

test("a cookie-authenticated change without X-CSRF-Token, or with a wrong one, is refused and changes nothing", async () => {
  const { cookie, jar } = await browserLogin();
  const missing = await patch({ cookie });
  assert.equal(missing.statusCode, 403);
  assert.equal(missing.json().error.code, "forbidden");
  assert.equal((await patch({ cookie, "x-csrf-token": `${jar.bulwark_csrf}x` })).statusCode, 403);
  assert.equal((await patch({ cookie, "x-csrf-token": "" })).statusCode, 403);
  const me = (await t.app.inject({ method: "GET", url: "/api/users/me", headers: { cookie } })).json().user;
  assert.equal(me.display_name, null);
});

test("with the matching X-CSRF-Token the change goes through", async () => {
  const { cookie, jar } = await browserLogin();
  const ok = await patch({ cookie, "x-csrf-token": jar.bulwark_csrf! });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().user.display_name, "Mallory was here");
});

test("a cookie-authenticated change from an origin not allowed is refused even with the token", async () => {
  const { cookie, jar } = await browserLogin();
  assert.equal(
    (await patch({ cookie, "x-csrf-token": jar.bulwark_csrf!, origin: "https://evil.example" })).statusCode,
    403,
  );
  assert.equal(
    (await patch({ cookie, "x-csrf-token": jar.bulwark_csrf!, origin: "http://localhost:5173" })).statusCode,
    200,
  );
});

test("the refresh cookie obeys the same CSRF rule; logout clears the session cookies", async () => {
  const { cookie, jar } = await browserLogin();
  assert.equal(
    (await t.app.inject({ method: "POST", url: "/api/auth/refresh", headers: { cookie }, payload: {} })).statusCode,
    403,
  );
  const refreshed = await t.app.inject({
    method: "POST",
    url: "/api/auth/refresh",
    headers: { cookie, "x-csrf-token": jar.bulwark_csrf! },
    payload: {},
  });
  assert.equal(refreshed.statusCode, 200);
  assert.equal(refreshed.json().refresh_token, undefined);
  const fresh = Object.fromEntries(
    (refreshed.headers["set-cookie"] as string[]).map((l) => l.split(";")[0]!.split("=") as [string, string]),
  );
  const cookie2 = `bulwark_access=${fresh.bulwark_access}; bulwark_refresh=${fresh.bulwark_refresh}; bulwark_csrf=${fresh.bulwark_csrf}`;
  const out = await t.app.inject({
    method: "POST",
    url: "/api/auth/logout",
    headers: { cookie: cookie2, "x-csrf-token": fresh.bulwark_csrf! },
  });
  assert.equal(out.statusCode, 204);
  assert.ok((out.headers["set-cookie"] as string[]).every((l) => /Max-Age=0/.test(l)));
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/users/me", headers: { cookie: cookie2 } })).statusCode,
    401,
  );
});

test("bearer requests are not subject to the CSRF check", async () => {
  const user = await register(t.app);
  const pair = (
    await t.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { login: user.username, password: user.password },
    })
  ).json();
  assert.equal(
    (await patch({ authorization: `Bearer ${pair.access_token}`, origin: "https://elsewhere.example" })).statusCode,
    200,
  );
});

test("over https the cookies are Secure and __Host- prefixed", async () => {
  const https = await startApp({ env: { PUBLIC_URL: "https://api.example.com" } });
  try {
    const user = await register(https.app);
    const res = await https.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { login: user.username, password: user.password, use_cookies: true },
    });
    for (const line of res.headers["set-cookie"] as string[]) {
      assert.match(line, /^__Host-bulwark_/);
      assert.match(line, /; Secure/);
      assert.match(line, /; Path=\//);
      assert.doesNotMatch(line, /Domain=/);
    }
  } finally {
    await https.close();
  }
});
