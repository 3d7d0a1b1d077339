import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { hmacSha256, hmacSha256Hex, sha256, sha256Hex, timingSafeEqualBytes, timingSafeEqualString } from "./hash.js";

type HmacCase = { case: number; key: string; data: string; hmacSha256: string; truncateBits?: number };

function loadRfc4231(): HmacCase[] {
  const raw: unknown = JSON.parse(
    readFileSync(new URL("../../../test/vectors/rfc4231-hmac-sha256.json", import.meta.url), "utf8"),
  );
  assert.ok(typeof raw === "object" && raw !== null && "cases" in raw && Array.isArray(raw.cases));
  return raw.cases as HmacCase[];
}

const rfc4231 = loadRfc4231();

test("RFC 4231 vectors file holds test cases 1 to 7", () => {
  assert.deepEqual(
    rfc4231.map((c) => c.case),
    [1, 2, 3, 4, 5, 6, 7],
  );
});

for (const vector of rfc4231) {
  test(`HMAC-SHA-256 matches RFC 4231 test case ${vector.case}`, () => {
    const key = Buffer.from(vector.key, "hex");
    const data = Buffer.from(vector.data, "hex");
    const mac = hmacSha256(key, data);
    assert.equal(mac.length, 32);
    // Case 5 publishes only the leftmost 128 bits of the MAC.
    const bytes = vector.truncateBits === undefined ? 32 : vector.truncateBits / 8;
    assert.equal(mac.subarray(0, bytes).toString("hex"), vector.hmacSha256);
    assert.equal(hmacSha256Hex(key, data).slice(0, bytes * 2), vector.hmacSha256);
  });
}

test("HMAC-SHA-256 takes string key and data as UTF-8 (RFC 4231 test case 2)", () => {
  assert.equal(
    hmacSha256Hex("Jefe", "what do ya want for nothing?"),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
});

test('SHA-256 of "abc" matches FIPS 180-2 appendix B.1', () => {
  const expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  assert.equal(sha256Hex("abc"), expected);
  assert.equal(sha256(Buffer.from("abc")).toString("hex"), expected);
});

test("SHA-256 of the empty string", () => {
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

test("timingSafeEqualBytes: equal, different, different lengths, empty", () => {
  const a = Buffer.from("0123456789abcdef");
  assert.equal(timingSafeEqualBytes(a, Buffer.from("0123456789abcdef")), true);
  assert.equal(timingSafeEqualBytes(a, Buffer.from("0123456789abcdeF")), false);
  assert.equal(timingSafeEqualBytes(a, Buffer.from("1123456789abcdef")), false);
  assert.equal(timingSafeEqualBytes(a, Buffer.from("0123456789abcde")), false);
  assert.equal(timingSafeEqualBytes(a, Buffer.from("0123456789abcdef0")), false);
  assert.equal(timingSafeEqualBytes(new Uint8Array(0), new Uint8Array(0)), true);
  assert.equal(timingSafeEqualBytes(new Uint8Array(0), a), false);
  assert.equal(timingSafeEqualBytes(a, new Uint8Array(0)), false);
  // A prefix of zero bytes is still a different value.
  assert.equal(timingSafeEqualBytes(new Uint8Array(1), new Uint8Array(0)), false);
});

test("timingSafeEqualString: equal, different, different lengths, empty, non-ASCII", () => {
  assert.equal(timingSafeEqualString("s3cret-token", "s3cret-token"), true);
  assert.equal(timingSafeEqualString("s3cret-token", "s3cret-tokeN"), false);
  assert.equal(timingSafeEqualString("s3cret-token", "s3cret"), false);
  assert.equal(timingSafeEqualString("s3cret", "s3cret-token"), false);
  assert.equal(timingSafeEqualString("", ""), true);
  assert.equal(timingSafeEqualString("", "x"), false);
  assert.equal(timingSafeEqualString("x", ""), false);
  assert.equal(timingSafeEqualString("café", "café"), true);
  assert.equal(timingSafeEqualString("café", "cafe\u0301"), false);
});
