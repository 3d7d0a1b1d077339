// Threat: multipart parsing leaking to routes built for JSON (form posts from other sites, parser bugs on every route).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn, type SignedIn } from "../../../test/identity.js";
import { multipart, upload } from "../../../test/files.js";

let t: TestApp;
let user: SignedIn;
before(async () => {
  t = await startApp({
    env: { SENSITIVE_PER_MINUTE: "1000", AUTH_REGISTER_PER_MINUTE: "1000", AUTH_LOGIN_PER_MINUTE: "1000" },
  });
  user = await signedIn(t.app);
});
after(() => t.close());

const post = (
  url: string,
  body: { payload: Buffer | string; headers: Record<string, string> },
  access: string | null = user.access,
) =>
  t.app.inject({
    method: "POST",
    url,
    headers: { ...body.headers, ...(access ? bearer(access) : {}) },
    payload: body.payload,
  });

test("every route but the upload still refuses multipart with 415", async () => {
  const form = multipart([
    { name: "name", data: "k" },
    { name: "scopes", data: "[]" },
  ]);
  const res = await post("/api/keys", form);
  assert.equal(res.statusCode, 415, res.body);
  assert.equal(res.json().error.code, "unsupported_media_type");
  const register = await post("/api/auth/register", multipart([{ name: "username", data: "someone" }]), null);
  assert.equal(register.statusCode, 415);
});

test("the upload takes one multipart file in the field `file` and nothing else", async () => {
  const json = await post("/api/files", {
    payload: JSON.stringify({ file: "aGVsbG8=" }),
    headers: { "content-type": "application/json" },
  });
  assert.equal(json.statusCode, 415, json.body);
  const two = await post(
    "/api/files",
    multipart([
      { name: "file", filename: "a.txt", data: "a" },
      { name: "file", filename: "b.txt", data: "b" },
    ]),
  );
  assert.equal(two.statusCode, 400, two.body);
  assert.match(two.json().error.message, /one file/);
  const wrongField = await post("/api/files", multipart([{ name: "upload", filename: "a.txt", data: "a" }]));
  assert.equal(wrongField.statusCode, 400);
  const noFile = await post("/api/files", multipart([{ name: "visibility", data: "public" }]));
  assert.equal(noFile.statusCode, 400);
  assert.match(noFile.json().error.message, /no file/);
  const badVisibility = await upload(t.app, user.access, { name: "a.txt", data: "a", visibility: "everyone" });
  assert.equal(badVisibility.statusCode, 400);
  const truncated = await post("/api/files", {
    payload: multipart([{ name: "file", filename: "a.txt", data: "abc" }]).payload.subarray(0, 90),
    headers: multipart([]).headers,
  });
  assert.ok(truncated.statusCode === 400, `a truncated body is a 400: ${truncated.statusCode} ${truncated.body}`);
  const empty = await upload(t.app, user.access, { name: "empty.txt", data: "" });
  assert.equal(empty.statusCode, 400);
  assert.equal((await upload(t.app, null, { name: "a.txt", data: "a" })).statusCode, 401, "uploads need credentials");
  assert.deepEqual(
    (await t.app.inject({ method: "GET", url: "/api/files", headers: bearer(user.access) })).json().files,
    [],
    "none of these stored anything",
  );
});

// Threat: a malformed multipart header (no boundary, a bad one) answered as a server error.
test("a multipart content type without a usable boundary is a 400, and stores nothing", async () => {
  for (const type of [
    "multipart/form-data",
    "multipart/form-data; boundary=",
    'multipart/form-data; boundary=""',
    "multipart/form-data; charset=utf-8",
  ]) {
    const res = await post("/api/files", { payload: "{}", headers: { "content-type": type } });
    assert.equal(res.statusCode, 400, `${type}: ${res.body}`);
    assert.equal(res.json().error.code, "invalid_request");
  }
  const list = await t.app.inject({ method: "GET", url: "/api/files", headers: bearer(user.access) });
  assert.deepEqual(list.json().files, []);
});
