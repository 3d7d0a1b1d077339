// SHA-256, HMAC-SHA-256 and constant-time comparison, straight from node:crypto.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The SHA-256 digest of `data` (strings are hashed as UTF-8). */
export function sha256(data: string | Uint8Array): Buffer {
  return createHash("sha256").update(data).digest();
}

/** The SHA-256 digest of `data` as lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return sha256(data).toString("hex");
}

/** HMAC-SHA-256 of `data` under `key` (strings are taken as UTF-8). */
export function hmacSha256(key: string | Uint8Array, data: string | Uint8Array): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** HMAC-SHA-256 of `data` under `key` as lowercase hex. */
export function hmacSha256Hex(key: string | Uint8Array, data: string | Uint8Array): string {
  return hmacSha256(key, data).toString("hex");
}

// A key nobody outside this process ever sees, drawn once at start. Comparing
// HMACs under it rather than the raw values means:
// - both sides are always 32 bytes, so `timingSafeEqual` never has to refuse
//   (or early-return on) inputs of different lengths, and the comparison does
//   not stop at the first differing byte of the secret;
// - an attacker cannot choose inputs whose digests share a prefix with the
//   secret's digest, because they cannot compute digests under this key.
// Hashing takes time proportional to the input length, so the lengths of the
// inputs (the attacker's own, and a secret's, which is public by format for
// tokens, hashes and MACs) are the only things timing can reveal, never content.
const COMPARE_KEY = randomBytes(32);

/** Whether `a` and `b` hold the same bytes, in time that does not depend on where they differ. */
export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  const digestA = hmacSha256(COMPARE_KEY, a);
  const digestB = hmacSha256(COMPARE_KEY, b);
  // Equal 256-bit HMACs under a secret random key mean equal inputs, barring an
  // HMAC-SHA-256 collision, so no separate (leaky) length check is needed.
  return timingSafeEqual(digestA, digestB);
}

/** Whether `a` and `b` are the same string (compared as UTF-8), in time that does not depend on where they differ. */
export function timingSafeEqualString(a: string, b: string): boolean {
  return timingSafeEqualBytes(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
