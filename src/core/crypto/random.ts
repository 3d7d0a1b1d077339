// Unpredictable tokens and identifiers from the operating system's CSPRNG, never from Math.random.
import { randomBytes } from "node:crypto";

/** The base62 alphabet, in ascending order: digits, then upper case, then lower case. */
export const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// 248 = 4 * 62 is the largest multiple of 62 that fits in a byte. Bytes at or
// above it are thrown away: mapping all 256 byte values with `% 62` would make
// the first 8 characters 25% more likely than the rest (modulo bias).
const BASE62_ACCEPT_BELOW = 248;

/** `bytes` CSPRNG bytes as base64url (no padding); the default 32 bytes carry 256 bits of entropy. */
export function randomToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 1) throw new RangeError("randomToken: bytes must be a positive integer");
  return randomBytes(bytes).toString("base64url");
}

/** A string of `length` characters drawn uniformly and independently from BASE62. */
export function randomBase62(length: number): string {
  if (!Number.isInteger(length) || length < 0)
    throw new RangeError("randomBase62: length must be a non-negative integer");
  let out = "";
  while (out.length < length) {
    // Rejection sampling keeps 248/256 of the bytes on average, so ask for a
    // little more than needed and loop for the rare shortfall.
    const batch = randomBytes(Math.ceil((length - out.length) * 1.1) + 8);
    for (const byte of batch) {
      if (byte >= BASE62_ACCEPT_BELOW) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A non-negative integer in base62, left-padded with '0' to `width`; throws if it does not fit in `width`. */
export function encodeBase62(n: bigint | number, width?: number): string {
  if (typeof n === "number" && !Number.isSafeInteger(n)) throw new RangeError("encodeBase62: n must be a safe integer");
  let value = BigInt(n);
  if (value < 0n) throw new RangeError("encodeBase62: n must be non-negative");
  let digits = "";
  do {
    digits = BASE62[Number(value % 62n)] + digits;
    value /= 62n;
  } while (value > 0n);
  if (width === undefined) return digits;
  if (!Number.isInteger(width) || width < 1) throw new RangeError("encodeBase62: width must be a positive integer");
  // A fixed-width field (such as a checksum) that silently grows would shift
  // every field after it; refuse instead of returning a longer string.
  if (digits.length > width)
    throw new RangeError(`encodeBase62: value needs ${digits.length} digits, more than width ${width}`);
  return digits.padStart(width, "0");
}
