// Attack: a resource server trusting a token after its session ended or its key was revoked, because
// introspection answered from a stale view; and anyone probing tokens through the endpoint without
// a key that holds the `introspect` scope.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn, type SignedIn, stepUp } from "../../../test/identity.js";

let t: TestApp;
let service: SignedIn;
let introspector: string;

before(async () => {
  t = await startApp();
  service = await signedIn(t.app);
  introspector = await createKey(service, ["introspect"]);
});
after(() => t.close());

async function createKey(owner: SignedIn, scopes: string[]): Promise<string> {
  await stepUp(t.app, owner);
  const res = await t.app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(owner.access),
    payload: { name: `k${scopes.join("")}`, scopes },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().key as string;
}

const introspect = (token: unknown, headers: Record<string, string> = { "x-api-key": introspector }) =>
  t.app.inject({ method: "POST", url: "/api/auth/introspect", headers, payload: { token } });

test("only an API key holding the introspect scope may call it, in its own rate-limit class", async () => {
  const user = await signedIn(t.app);
  assert.equal((await introspect(user.access, {})).statusCode, 401, "anonymous");
  assert.equal(
    (await introspect(user.access, bearer(user.access))).statusCode,
    403,
    "a signed-in user is not a service",
  );
  const other = await createKey(service, ["files:read"]);
  assert.equal((await introspect(user.access, { "x-api-key": other })).statusCode, 403, "a key without the scope");
  const ok = await introspect(user.access);
  assert.equal(ok.statusCode, 200);
  assert.match(String(ok.headers["ratelimit-policy"]), /^"introspect";q=\d+;w=60$/);
});

test("an access token is active with its subject, role, session and expiry, until its session ends", async () => {
  const user = await signedIn(t.app);
  const res = await introspect(user.access);
  const body = res.json();
  assert.equal(body.active, true);
  assert.equal(body.token_type, "access_token");
  assert.equal(body.sub, user.userId);
  assert.equal(body.role, "user");
  assert.equal(body.session_id, user.sessionId);
  assert.ok(Number.isInteger(body.exp) && body.exp > body.iat);

  assert.equal(
    (await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: bearer(user.access), payload: {} }))
      .statusCode,
    204,
  );
  assert.deepEqual(
    (await introspect(user.access)).json(),
    { active: false },
    "revocation is visible at once, and nothing else is revealed",
  );
});

test("an API key is active with its owner, scopes and id, until it is revoked", async () => {
  const owner = await signedIn(t.app);
  const key = await createKey(owner, ["files:read", "files:write"]);
  const body = (await introspect(key)).json();
  assert.equal(body.active, true);
  assert.equal(body.token_type, "api_key");
  assert.equal(body.sub, owner.userId);
  assert.equal(body.scope, "files:read files:write");
  assert.equal(body.client_id, body.key_id);
  assert.equal(body.exp, undefined, "a key without expiry has no exp");

  assert.equal(
    (
      await t.app.inject({
        method: "DELETE",
        url: `/api/keys/${body.key_id}`,
        headers: bearer(owner.access),
        payload: {},
      })
    ).statusCode,
    204,
  );
  assert.deepEqual((await introspect(key)).json(), { active: false });
});

test("garbage, forged and unknown tokens are inactive; a malformed request is 400 with the envelope", async () => {
  const user = await signedIn(t.app);
  const [h, p] = user.access.split(".");
  for (const token of ["nope", `${h}.${p}.AAAA`, "bwk_0000000000000000000000000000000000000000", "a.b.c"]) {
    const res = await introspect(token);
    assert.equal(res.statusCode, 200, token);
    assert.deepEqual(res.json(), { active: false }, token);
  }
  for (const payload of [{}, { token: "" }, { token: "x", extra: 1 }, { token: 5 }]) {
    const res = await t.app.inject({
      method: "POST",
      url: "/api/auth/introspect",
      headers: { "x-api-key": introspector },
      payload,
    });
    assert.equal(res.statusCode, 400, JSON.stringify(payload));
    assert.equal(res.json().error.code, "invalid_request");
  }
});
