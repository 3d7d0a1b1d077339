// Recovery codes: random characters of the RFC 4648 base32 alphabet (lower case).
import { randomBytes } from "node:crypto";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** `length` characters drawn uniformly from the base32 alphabet, from the CSPRNG. */
export function randomBase32(length: number): string {
  // 32 divides 256: taking each byte modulo 32 has no bias.
  return Array.from(randomBytes(length), (b) => BASE32[b % 32]).join("");
}
