// Attack: modulo bias — mapping bytes to base62 with `% 62` over more than 248 byte values makes some characters likelier, so keys and codes are easier to guess.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE62, encodeBase62, randomBase62, randomToken } from "./random.js";

test("every base62 character is drawn with probability 1/62: no count strays 7 sigma from the mean over 1.24 M draws", () => {
  const perSymbol = 20_000;
  const sample = randomBase62(62 * perSymbol);
  const counts = new Map<string, number>();
  for (const ch of sample) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  // Binomial: sigma = sqrt(n p (1 - p)) ~ 140. Accepting one more byte value (248) would give '0'
  // 5/249 instead of 4/248 of the draws: ~4,900 extra, 35 sigma. A correct generator strays past
  // 7 sigma with probability ~1e-10 over the 62 symbols.
  const sigma = Math.sqrt(62 * perSymbol * (1 / 62) * (61 / 62));
  for (const ch of BASE62) {
    const count = counts.get(ch) ?? 0;
    assert.ok(
      Math.abs(count - perSymbol) < 7 * sigma,
      `${ch}: ${count} draws, expected ${perSymbol} ± ${Math.round(7 * sigma)}`,
    );
  }
});

test("argument errors name the rule they enforce", () => {
  assert.throws(() => randomBase62(-1), /randomBase62: length must be a non-negative integer/);
  assert.throws(() => encodeBase62(1.5), /encodeBase62: n must be a safe integer/);
  assert.throws(() => encodeBase62(-1n), /encodeBase62: n must be non-negative/);
  assert.throws(() => encodeBase62(62, 1), /encodeBase62: value needs 2 digits, more than width 1/);
});

test("encodeBase62 width: 1 is the smallest width; 0, negative and fractional widths are refused as such", () => {
  assert.equal(encodeBase62(5, 1), "5");
  for (const width of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => encodeBase62(0, width), /encodeBase62: width must be a positive integer/, String(width));
  }
});

test("randomToken names its rule when refusing a size", () => {
  assert.throws(() => randomToken(0), /randomToken: bytes must be a positive integer/);
});
