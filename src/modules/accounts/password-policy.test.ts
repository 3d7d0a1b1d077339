import { test } from "node:test";
import assert from "node:assert/strict";
import { checkPassword, commonPasswordListSize, normalizePassword, PASSWORD_MAX_LENGTH } from "./password-policy.js";
import type { PasswordCheckOptions, PasswordRule } from "./password-policy.js";

const NIST: PasswordCheckOptions = { minLength: 12, policy: "nist" };
const CLASSES: PasswordCheckOptions = { minLength: 12, policy: "classes" };
const GOOD = "purple tractor umbrella sings";

function refusedBy(password: string, options: PasswordCheckOptions): PasswordRule | "ok" {
  const result = checkPassword(password, options);
  return result.ok ? "ok" : result.rule;
}

test("a good passphrase passes and the normalised value is returned", () => {
  assert.deepEqual(checkPassword(GOOD, NIST), { ok: true, normalized: GOOD });
  const fullWidth = "ｐｕｒｐｌｅ ｔｒａｃｔｏｒ ｕｍｂｒｅｌｌａ";
  assert.deepEqual(checkPassword(fullWidth, NIST), { ok: true, normalized: "purple tractor umbrella" });
});

test("normalizePassword is NFKC", () => {
  assert.equal(normalizePassword("ｐａｓｓ"), "pass");
  assert.equal(normalizePassword("cafe\u0301"), "caf\u00e9");
  assert.equal(normalizePassword("\u210Cello \uFB01ne"), "Hello fine");
  assert.equal(normalizePassword(GOOD), GOOD);
});

test("too short is counted in code points, not UTF-16 units or bytes", () => {
  const eleven = "\u{1F600}".repeat(11);
  assert.equal(eleven.length, 22);
  const short = checkPassword(eleven, NIST);
  assert.deepEqual(short, { ok: false, rule: "too_short", message: "password must be at least 12 characters" });
  const twelve = "\u{1F600}".repeat(11) + "\u{1F642}";
  assert.equal(refusedBy(twelve, NIST), "ok");
  assert.equal(refusedBy("abcdefghijk", NIST), "too_short");
  assert.equal(refusedBy("k7#vq!pz9w", { minLength: 8, policy: "nist" }), "ok");
});

test("length is measured after NFKC: a ligature that expands can reach the minimum", () => {
  // U+FB03 (ﬃ) is one code point that NFKC turns into three.
  const password = "\uFB03\uFB03\uFB03\uFB03";
  assert.equal([...password].length, 4);
  assert.deepEqual(checkPassword(password, NIST), { ok: true, normalized: "ffiffiffiffi" });
});

test("the configured minimum is honoured, and never goes below 8", () => {
  assert.equal(refusedBy("zebra lamp violin", { minLength: 20, policy: "nist" }), "too_short");
  assert.equal(checkPassword("zebra lamp violin", { minLength: 20, policy: "nist" }).ok, false);
  assert.equal(refusedBy("k7#vq!p", { minLength: 4, policy: "nist" }), "too_short");
});

test("too long: 129 code points are refused, 128 accepted, nothing is truncated", () => {
  assert.equal(PASSWORD_MAX_LENGTH, 128);
  const base = "correct horse battery staple ";
  const exactly128 = base.repeat(5).slice(0, 128);
  assert.equal([...exactly128].length, 128);
  const ok = checkPassword(exactly128, NIST);
  assert.deepEqual(ok, { ok: true, normalized: exactly128 });
  const tooLong = checkPassword(`${exactly128}x`, NIST);
  assert.deepEqual(tooLong, { ok: false, rule: "too_long", message: "password must be at most 128 characters" });
  assert.equal(refusedBy("\u{1F600}".repeat(129), NIST), "too_long");
});

test("common and breached passwords are refused, case-insensitively", () => {
  for (const password of [
    "password1234",
    "qwertyuiop12",
    "PassWord1234",
    "QWERTYUIOP12",
    "123456789012",
    "1qaz2wsx3edc",
  ]) {
    const result = checkPassword(password, NIST);
    assert.deepEqual(
      result,
      { ok: false, rule: "common", message: "password is too common (it appears in lists of breached passwords)" },
      password,
    );
  }
});

test("the common-password check applies after NFKC: full-width 'ｐａｓｓｗｏｒｄ１２３４' is 'password1234'", () => {
  assert.equal(normalizePassword("ｐａｓｓｗｏｒｄ１２３４"), "password1234");
  assert.equal(refusedBy("ｐａｓｓｗｏｒｄ１２３４", NIST), "common");
  assert.equal(refusedBy("ＰＡＳＳＷＯＲＤ１２３４", NIST), "common");
});

test("the common-password list holds at least 10,000 entries", () => {
  assert.ok(commonPasswordListSize() >= 10_000, String(commonPasswordListSize()));
});

test("a password containing the username is refused (case-insensitive, username of 3 or more)", () => {
  const options: PasswordCheckOptions = { ...NIST, username: "Marguerite" };
  const result = checkPassword("my name is MARGUERITE ok", options);
  assert.deepEqual(result, {
    ok: false,
    rule: "contains_identity",
    message: "password must not contain your username or email",
  });
  assert.equal(refusedBy("violet marguerite7 sky", options), "contains_identity");
  assert.equal(refusedBy("ｍａｒｇｕｅｒｉｔｅ plus more words", options), "contains_identity");
  assert.equal(refusedBy(GOOD, options), "ok");
  // A two-character username is too short to search for.
  assert.equal(refusedBy("al and bo walk far away", { ...NIST, username: "al" }), "ok");
  assert.equal(refusedBy("bob builds big boats", { ...NIST, username: "bob" }), "contains_identity");
});

test("a password containing the email's local part or the whole email is refused", () => {
  const options: PasswordCheckOptions = { ...NIST, email: "Jane.Doe@example.com" };
  assert.equal(refusedBy("hello jane.doe and friends", options), "contains_identity");
  assert.equal(refusedBy("JANE.DOE@EXAMPLE.COM!", options), "contains_identity");
  assert.equal(refusedBy("example.com is my favourite", options), "ok");
  assert.equal(refusedBy(GOOD, options), "ok");
  // A two-character local part is not searched for alone, but the whole address still is.
  const short: PasswordCheckOptions = { ...NIST, email: "jd@example.org" };
  assert.equal(refusedBy("jd likes long walks", short), "ok");
  assert.equal(refusedBy("mail me at jd@example.org", short), "contains_identity");
});

test("classes policy demands an upper-case letter, a lower-case letter and a digit (Unicode-aware)", () => {
  const message = "password must contain an upper-case letter, a lower-case letter and a digit";
  assert.deepEqual(checkPassword(GOOD, CLASSES), { ok: false, rule: "classes", message });
  assert.equal(refusedBy("purple tractor Umbrella", CLASSES), "classes");
  assert.equal(refusedBy("purple tractor umbrella 7", CLASSES), "classes");
  assert.equal(refusedBy("PURPLE TRACTOR UMBRELLA 7", CLASSES), "classes");
  assert.equal(refusedBy("Purple tractor umbrella 7", CLASSES), "ok");
  // Non-Latin letters and digits count: Greek capital and small letters, an Arabic-Indic digit.
  assert.equal(refusedBy("Ωμέγα αλφάβητο ٣ λέξεις", CLASSES), "ok");
  // The same passwords pass the nist policy, which has no class rule.
  assert.equal(refusedBy(GOOD, NIST), "ok");
  assert.equal(refusedBy("purple tractor umbrella 7", NIST), "ok");
});

test("messages never echo the password", () => {
  const secret = "Zq9secretword";
  for (const options of [
    NIST,
    CLASSES,
    { ...NIST, username: "secretword" },
    { minLength: 64, policy: "nist" as const },
  ]) {
    const result = checkPassword(secret, options);
    if (!result.ok) assert.ok(!result.message.toLowerCase().includes("secretword"), result.message);
  }
});
