import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE62, encodeBase62, randomBase62, randomToken } from "./random.js";

test("BASE62 is 0-9A-Za-z in ascending order", () => {
  assert.equal(BASE62.length, 62);
  assert.equal(new Set(BASE62).size, 62);
  assert.equal(BASE62, [...BASE62].sort().join(""));
  assert.match(BASE62, /^[0-9A-Za-z]{62}$/);
});

test("randomToken is base64url of the requested number of bytes", () => {
  const token = randomToken();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(token, "base64url").length, 32);
  for (const bytes of [1, 2, 3, 16, 48, 64]) {
    const t = randomToken(bytes);
    assert.match(t, /^[A-Za-z0-9_-]+$/);
    assert.equal(Buffer.from(t, "base64url").length, bytes);
  }
});

test("randomToken refuses a non-positive or fractional size", () => {
  for (const bytes of [0, -1, 1.5, Number.NaN]) assert.throws(() => randomToken(bytes), RangeError);
});

test("randomToken does not repeat over many draws", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) seen.add(randomToken(16));
  assert.equal(seen.size, 10_000);
});

test("randomBase62 has the requested length and alphabet", () => {
  assert.equal(randomBase62(0), "");
  for (const length of [1, 2, 22, 40, 1000]) {
    const s = randomBase62(length);
    assert.equal(s.length, length);
    assert.match(s, /^[0-9A-Za-z]*$/);
  }
});

test("randomBase62 refuses a negative or fractional length", () => {
  for (const length of [-1, 2.5, Number.NaN]) assert.throws(() => randomBase62(length), RangeError);
});

test("randomBase62 does not repeat over many draws", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) seen.add(randomBase62(22));
  assert.equal(seen.size, 10_000);
});

test("randomBase62 is uniform over the alphabet (chi-square, no modulo bias)", () => {
  const perSymbol = 2000;
  const sample = randomBase62(62 * perSymbol);
  const counts = new Map<string, number>();
  for (const ch of sample) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  assert.equal(counts.size, 62);
  let chiSquare = 0;
  for (const ch of BASE62) chiSquare += ((counts.get(ch) ?? 0) - perSymbol) ** 2 / perSymbol;
  // 61 degrees of freedom: mean 61, and P(chi2 > 153) is about 1e-9
  // (Wilson-Hilferty), so 160 never flakes on a correct generator. A `% 62`
  // over raw bytes would give the first 8 symbols 25% more draws, a
  // chi-square near 1000, far above this bound.
  assert.ok(chiSquare < 160, `chi-square ${chiSquare.toFixed(1)} over 61 degrees of freedom`);
});

test("encodeBase62 known values", () => {
  assert.equal(encodeBase62(0), "0");
  assert.equal(encodeBase62(9), "9");
  assert.equal(encodeBase62(10), "A");
  assert.equal(encodeBase62(35), "Z");
  assert.equal(encodeBase62(36), "a");
  assert.equal(encodeBase62(61), "z");
  assert.equal(encodeBase62(62), "10");
  assert.equal(encodeBase62(3843), "zz");
  assert.equal(encodeBase62(3844), "100");
  // The largest CRC32, as in API-key checksums: 4 * 62^5 + 42 * 62^4 + 41 * 62^3 + 15 * 62^2 + 12 * 62 + 3.
  assert.equal(encodeBase62(0xffffffff), "4gfFC3");
  assert.equal(encodeBase62(0xffffffffn), "4gfFC3");
  assert.equal(encodeBase62(2n ** 64n - 1n), "LygHa16AHYF");
});

test("encodeBase62 pads to width", () => {
  assert.equal(encodeBase62(0, 6), "000000");
  assert.equal(encodeBase62(61, 6), "00000z");
  assert.equal(encodeBase62(0xffffffff, 6), "4gfFC3");
  assert.equal(encodeBase62(62n, 3), "010");
});

test("encodeBase62 refuses negative, unsafe or fractional input and values wider than width", () => {
  assert.throws(() => encodeBase62(-1), RangeError);
  assert.throws(() => encodeBase62(-1n), RangeError);
  assert.throws(() => encodeBase62(1.5), RangeError);
  assert.throws(() => encodeBase62(2 ** 53), RangeError);
  assert.throws(() => encodeBase62(62, 1), RangeError);
  assert.throws(() => encodeBase62(1, 0), RangeError);
});
