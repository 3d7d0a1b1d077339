// TOTP against the RFC 6238 vectors and against a second, independent implementation (otplib).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { generateSync } from "otplib";
import { generateTotpSecret, matchTotp, otpauthUrl, totpCode, totpStep } from "./totp.js";

type Vectors = {
  secret_ascii: string;
  secret_base32: string;
  vectors: { time: number; step_hex: string; totp: string }[];
};
const rfc6238 = JSON.parse(
  readFileSync(new URL("../../../test/vectors/rfc6238-totp-sha1.json", import.meta.url), "utf8"),
) as Vectors;

test("the vectors file's base32 secret is the RFC's ASCII seed", () => {
  assert.equal(Buffer.from(rfc6238.secret_ascii, "ascii").toString("hex"), "3132333435363738393031323334353637383930");
  assert.equal(rfc6238.vectors.length, 6);
});

for (const v of rfc6238.vectors) {
  test(`RFC 6238 SHA-1 vector at T=${v.time}: ${v.totp}`, () => {
    assert.equal(totpStep(v.time * 1000), parseInt(v.step_hex, 16));
    assert.equal(totpCode(rfc6238.secret_base32, v.time * 1000, 8), v.totp);
    // Six digits are the same truncation modulo 10^6: the last six of the eight.
    assert.equal(totpCode(rfc6238.secret_base32, v.time * 1000), v.totp.slice(2));
    assert.equal(matchTotp(rfc6238.secret_base32, v.totp.slice(2), v.time * 1000), parseInt(v.step_hex, 16));
  });
}

test("codes from otplib (another implementation) are accepted, at the step they belong to", () => {
  for (let i = 0; i < 20; i++) {
    const secret = generateTotpSecret();
    const epoch = 1_700_000_000 + i * 7919;
    const code = generateSync({ secret, epoch });
    assert.equal(matchTotp(secret, code, epoch * 1000), Math.floor(epoch / 30));
    assert.equal(totpCode(secret, epoch * 1000), code);
  }
});

test("one step of skew either way is accepted; two are not; wrong and malformed codes are refused", () => {
  const secret = generateTotpSecret();
  const now = 1_800_000_000_000;
  const step = totpStep(now);
  assert.equal(matchTotp(secret, totpCode(secret, now - 30_000), now), step - 1);
  assert.equal(matchTotp(secret, totpCode(secret, now + 30_000), now), step + 1);
  assert.equal(matchTotp(secret, totpCode(secret, now - 60_000), now), null);
  assert.equal(matchTotp(secret, totpCode(secret, now + 60_000), now), null);
  const right = totpCode(secret, now);
  const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, "0");
  assert.equal(matchTotp(secret, wrong, now), null);
  for (const bad of ["", "12345", "1234567", "abcdef", " 123456"]) assert.equal(matchTotp(secret, bad, now), null);
});

test("secrets are 160 random bits in base32; the otpauth URL names SHA1, 6 digits, 30 s", () => {
  const a = generateTotpSecret();
  assert.match(a, /^[A-Z2-7]{32}$/);
  assert.notEqual(a, generateTotpSecret());
  const url = new URL(otpauthUrl(a, { issuer: "example.com", label: "ada" }));
  assert.equal(url.protocol, "otpauth:");
  assert.equal(url.searchParams.get("secret"), a);
  assert.equal(url.searchParams.get("algorithm"), "SHA1");
  assert.equal(url.searchParams.get("digits"), "6");
  assert.equal(url.searchParams.get("period"), "30");
  assert.equal(url.searchParams.get("issuer"), "example.com");
});
