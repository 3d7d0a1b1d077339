// The API key format: `bwk_<id>_<secret><checksum>`. The checksum (CRC32 of everything before it,
// six base62 characters) lets secret scanners and the server reject a mistyped or made-up key
// without a database look-up. It is not a security measure: anyone can compute a CRC.
import { crc32 } from "node:zlib";
import { encodeBase62, randomBase62 } from "../../core/crypto/index.js";
import { newId } from "../../core/ids.js";

export const KEY_PREFIX = "bwk_";
/** 40 base62 characters: about 238 bits of entropy (at least 32 characters, docs/api-keys.md). */
const SECRET_LENGTH = 40;
const CHECKSUM_LENGTH = 6;
/** bwk_, a 32-hex id, _, then at least 32 secret characters and the checksum; bounded above so a huge header is refused by a regex, not hashed. */
const KEY_SHAPE = /^bwk_([0-9a-f]{32})_([0-9A-Za-z]{38,134})$/;

/** The checksum of a key body: CRC32 in base62, six characters (62^6 > 2^32). */
export function checksum(body: string): string {
  return encodeBase62(crc32(body), CHECKSUM_LENGTH);
}

/** A fresh key and its id, timestamp-ordered so listings sort by creation. */
export function generateKey(now: number): { id: string; key: string } {
  const id = newId(now);
  const body = `${KEY_PREFIX}${id}_${randomBase62(SECRET_LENGTH)}`;
  return { id, key: body + checksum(body) };
}

/** The key's id when it is well formed and its checksum matches; null otherwise (nothing is looked up). */
export function parseKey(key: string): string | null {
  const match = KEY_SHAPE.exec(key);
  if (!match) return null;
  const body = key.slice(0, -CHECKSUM_LENGTH);
  return key.slice(-CHECKSUM_LENGTH) === checksum(body) ? match[1]! : null;
}

/** Whether a string looks like an API key at all (for resolvers deciding whether a credential is theirs). */
export function looksLikeKey(value: string): boolean {
  return value.startsWith(KEY_PREFIX);
}

/** The public part shown in listings: enough to recognise a key, nothing that authenticates. */
export function keyPrefix(id: string): string {
  return `${KEY_PREFIX}${id}`;
}
