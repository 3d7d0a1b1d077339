// Threat: a file that lies about what it is (extension, declared type, polyglot, markup) stored and then run by a browser.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import sharp from "sharp";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn, type SignedIn } from "../../../test/identity.js";
import { png, upload } from "../../../test/files.js";

const LIMITS = {
  RATE_LIMIT_PER_MINUTE: "1000",
  SENSITIVE_PER_MINUTE: "1000",
  AUTH_REGISTER_PER_MINUTE: "1000",
  AUTH_LOGIN_PER_MINUTE: "1000",
};
const SVG =
  '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><script>alert(1)</script></svg>';

let t: TestApp;
let user: SignedIn;
before(async () => {
  t = await startApp({ env: LIMITS });
  user = await signedIn(t.app);
});
after(() => t.close());

const refused = async (file: Parameters<typeof upload>[2], why: RegExp) => {
  const res = await upload(t.app, user.access, file);
  assert.equal(res.statusCode, 415, `${file.name}: ${res.body}`);
  assert.equal(res.json().error.code, "unsupported_media_type");
  assert.match(res.json().error.message, why);
};

test("an extension or a declared type that disagrees with the bytes is refused with 415", async () => {
  const image = await png();
  await refused({ name: "cat.html", type: "image/png", data: image }, /named \.html but the bytes are image\/png/);
  await refused({ name: "cat.txt", data: image }, /named \.txt/);
  await refused(
    { name: "cat.png", type: "text/html", data: image },
    /declared as text\/html but the bytes are image\/png/,
  );
  await refused(
    { name: "notes.png", type: "image/png", data: "just words\n" },
    /declared as image\/png but the bytes are text\/plain/,
  );
  // Types that are recognised but not allowed: an executable and an archive.
  await refused(
    {
      name: "setup.exe",
      data: Buffer.concat([
        Buffer.from("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "latin1"),
        Buffer.alloc(200),
      ]),
    },
    /not accepted/,
  );
  await refused(
    { name: "a.zip", data: Buffer.concat([Buffer.from("PK\x03\x04", "latin1"), Buffer.alloc(100)]) },
    /not accepted/,
  );
  await refused(
    { name: "blob.bin", data: Buffer.from([0, 1, 2, 3, 255, 254, 0, 7]) },
    /application\/octet-stream are not accepted/,
  );
  // The same PNG, truthfully named and declared (or declaring nothing), is fine.
  assert.equal((await upload(t.app, user.access, { name: "cat.png", type: "image/png", data: image })).statusCode, 201);
  assert.equal((await upload(t.app, user.access, { name: "cat", data: image })).statusCode, 201);
});

test("a GIF that is also JavaScript is stored as an image only: the script is not in the stored bytes", async () => {
  // GIF89a/*…binary…*/=1;alert(document.domain)// parses as a GIF and as a script.
  const gif = await sharp({ create: { width: 1, height: 1, channels: 3, background: "#fff" } })
    .gif()
    .toBuffer();
  gif[6] = 0x2f; // "/"
  gif[7] = 0x2a; // "*": the logical screen width opens a JS comment
  const polyglot = Buffer.concat([gif, Buffer.from("*/=1;alert(document.domain)//")]);
  const res = await upload(t.app, user.access, { name: "funny.gif", type: "image/gif", data: polyglot });
  assert.equal(res.statusCode, 201, res.body);
  const file = res.json();
  assert.equal(file.type, "image/gif");
  const got = await t.app.inject({ method: "GET", url: `/api/files/${file.id}`, headers: bearer(user.access) });
  assert.equal(got.statusCode, 200);
  assert.ok(!got.rawPayload.includes("alert"), "the script is gone");
  assert.ok(!got.rawPayload.subarray(6, 8).equals(Buffer.from("/*")), "the header no longer opens a comment");
  assert.equal((await sharp(got.rawPayload).metadata()).format, "gif");
  assert.equal(got.headers["content-type"], "image/gif");
  assert.equal(got.headers["x-content-type-options"], "nosniff");
  assert.match(String(got.headers["content-disposition"]), /^attachment/);
});

test("SVG with script and HTML are refused by default, whatever they are called", async () => {
  await refused({ name: "logo.svg", type: "image/svg+xml", data: SVG }, /image\/svg\+xml are not accepted/);
  await refused({ name: "logo.png", type: "image/png", data: SVG }, /image\/svg\+xml/);
  await refused(
    { name: "readme.txt", type: "text/plain", data: "<!DOCTYPE html><script>alert(1)</script>" },
    /text\/html are not accepted/,
  );
  await refused(
    { name: "readme.txt", type: "text/plain", data: "\uFEFF  <html><body onload=alert(1)>" },
    /text\/html are not accepted/,
  );
  await refused(
    {
      name: "x.txt",
      type: "text/plain",
      data: '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
    },
    /application\/xml/,
  );
});

test("SVG explicitly allowed is stored as sent but served only as an attachment under a sandboxing CSP", async () => {
  const allowing = await startApp({ env: { ...LIMITS, FILE_ALLOWED_TYPES: "image/png,image/svg+xml" } });
  try {
    const owner = await signedIn(allowing.app);
    const res = await upload(allowing.app, owner.access, {
      name: "logo.svg",
      type: "image/svg+xml",
      data: SVG,
      visibility: "public",
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().type, "image/svg+xml");
    const got = await allowing.app.inject({ method: "GET", url: `/api/files/${res.json().id}` });
    assert.equal(got.statusCode, 200);
    assert.equal(got.headers["content-type"], "image/svg+xml");
    assert.match(String(got.headers["content-disposition"]), /^attachment; filename="logo.svg"/);
    assert.match(String(got.headers["content-security-policy"]), /default-src 'none'.*sandbox/);
    assert.equal(got.headers["x-content-type-options"], "nosniff");
    // Plain text is not in this list: the allow-list is the whole list.
    assert.equal((await upload(allowing.app, owner.access, { name: "a.txt", data: "words" })).statusCode, 415);
  } finally {
    await allowing.close();
  }
});
