// The password rules (PASSWORD_MIN_LENGTH, PASSWORD_POLICY), after NIST SP 800-63B: NFKC, length in code
// points, never truncated, breached-list and identity checks always on, character classes only when configured.
import { createRequire } from "node:module";

/** The longest password accepted, in Unicode code points after NFKC. */
export const PASSWORD_MAX_LENGTH = 128;

// NIST's floor; the config already refuses less, and a caller passing less still gets 8.
const PASSWORD_MIN_FLOOR = 8;
// Shorter identifiers would refuse too much: "al" or "jo" appear inside many good passphrases.
const IDENTITY_MIN_LENGTH = 3;

export type PasswordPolicy = "nist" | "classes";
export type PasswordRule = "too_short" | "too_long" | "common" | "contains_identity" | "classes";
export type PasswordCheckOptions = { minLength: number; policy: PasswordPolicy; username?: string; email?: string };
export type PasswordCheck = { ok: true; normalized: string } | { ok: false; rule: PasswordRule; message: string };

/** NFKC-normalises a password; hash and verify the result, so "ｐａｓｓ" typed on one keyboard matches "pass" on another. */
export function normalizePassword(password: string): string {
  return password.normalize("NFKC");
}

/** Checks a new password against the configured rules; on success returns the normalised value to hash. */
export function checkPassword(password: string, options: PasswordCheckOptions): PasswordCheck {
  const normalized = normalizePassword(password);
  const length = codePoints(normalized);
  const minLength = Math.max(PASSWORD_MIN_FLOOR, options.minLength);

  // Messages name the rule and never echo the password.
  if (length < minLength) return fail("too_short", `password must be at least ${minLength} characters`);
  if (length > PASSWORD_MAX_LENGTH)
    return fail("too_long", `password must be at most ${PASSWORD_MAX_LENGTH} characters`);

  const folded = fold(normalized);
  if (commonPasswordSet().has(folded)) {
    return fail("common", "password is too common (it appears in lists of breached passwords)");
  }
  if (identityFragments(options).some((fragment) => folded.includes(fragment))) {
    return fail("contains_identity", "password must not contain your username or email");
  }
  if (
    options.policy === "classes" &&
    !(/\p{Lu}/u.test(normalized) && /\p{Ll}/u.test(normalized) && /\p{Nd}/u.test(normalized))
  ) {
    return fail("classes", "password must contain an upper-case letter, a lower-case letter and a digit");
  }
  return { ok: true, normalized };
}

/** How many distinct entries the common-password list holds (loads it if needed). */
export function commonPasswordListSize(): number {
  return commonPasswordSet().size;
}

function fail(rule: PasswordRule, message: string): PasswordCheck {
  return { ok: false, rule, message };
}

function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

// Case-insensitive comparison on the NFKC form, the same fold for the password, the list and the identity.
function fold(value: string): string {
  return normalizePassword(value).toLowerCase();
}

function identityFragments(options: PasswordCheckOptions): string[] {
  const fragments: string[] = [];
  const username = options.username === undefined ? "" : fold(options.username.trim());
  if (codePoints(username) >= IDENTITY_MIN_LENGTH) fragments.push(username);
  const email = options.email === undefined ? "" : fold(options.email.trim());
  if (email !== "") {
    fragments.push(email);
    const at = email.lastIndexOf("@");
    const local = at > 0 ? email.slice(0, at) : "";
    if (codePoints(local) >= IDENTITY_MIN_LENGTH) fragments.push(local);
  }
  return fragments;
}

type CommonDictionary = { dictionary: { "passwords-common": readonly string[] } };

let commonPasswords: ReadonlySet<string> | undefined;

// The zxcvbn-ts common-password dictionary: about 49,000 passwords most often seen in breach corpora.
// Loaded on first use (it takes tens of milliseconds to decompress), then kept.
function commonPasswordSet(): ReadonlySet<string> {
  if (commonPasswords === undefined) {
    const require = createRequire(import.meta.url);
    const { dictionary } = require("@zxcvbn-ts/language-common") as CommonDictionary;
    commonPasswords = new Set(dictionary["passwords-common"].map(fold));
  }
  return commonPasswords;
}
