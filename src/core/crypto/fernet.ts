// Reading Fernet tokens (https://github.com/fernet/spec), for importing data a Python backend
// encrypted with `cryptography.fernet` (MultiFernet for a key list). Decryption only: Bulwark never
// writes Fernet; imported plaintext is sealed again with the keyring.
//
// Token: base64url( 0x80 ‖ timestamp (8 bytes, big-endian seconds) ‖ IV (16) ‖ AES-128-CBC ciphertext ‖ HMAC-SHA256 (32) )
// Key:   base64url( signing key (16) ‖ encryption key (16) )
// The HMAC covers everything before it and is checked (in constant time) before anything is decrypted.
import { createDecipheriv, createHmac, timingSafeEqual } from "node:crypto";

export type FernetKey = { signing: Buffer; encryption: Buffer };

export type FernetErrorCode = "ERR_FERNET_KEY" | "ERR_FERNET_MALFORMED" | "ERR_FERNET_SIGNATURE";

/** A Fernet key or token problem; messages never contain key material or plaintext. */
export class FernetError extends Error {
  readonly code: FernetErrorCode;
  constructor(code: FernetErrorCode, message: string) {
    super(message);
    this.name = "FernetError";
    this.code = code;
  }
}

const URLSAFE = /^[A-Za-z0-9_-]+={0,2}$/;

function decode(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (!URLSAFE.test(trimmed)) return undefined;
  return Buffer.from(trimmed.replace(/=+$/, ""), "base64url");
}

/** Parses one Fernet key (44 characters of URL-safe base64, 32 bytes); throws ERR_FERNET_KEY. */
export function parseFernetKey(text: string, label = "Fernet key"): FernetKey {
  const bytes = decode(text);
  if (!bytes || bytes.length !== 32)
    throw new FernetError("ERR_FERNET_KEY", `${label} is not 32 bytes of URL-safe base64`);
  return { signing: bytes.subarray(0, 16), encryption: bytes.subarray(16) };
}

/** Parses a comma list of Fernet keys in MultiFernet order (the first is the newest). */
export function parseFernetKeys(list: string): FernetKey[] {
  const keys = list
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean)
    .map((k, i) => parseFernetKey(k, `Fernet key ${i + 1}`));
  if (keys.length === 0) throw new FernetError("ERR_FERNET_KEY", "no Fernet key given");
  return keys;
}

/**
 * Verifies and decrypts a token with the first key whose HMAC matches (MultiFernet order); returns
 * the plaintext and the token's timestamp. Throws ERR_FERNET_MALFORMED or ERR_FERNET_SIGNATURE.
 */
export function fernetDecrypt(token: string, keys: readonly FernetKey[]): { plaintext: Buffer; timestamp: Date } {
  const bytes = typeof token === "string" ? decode(token) : undefined;
  // version + timestamp + IV + at least one block + HMAC
  if (!bytes || bytes.length < 1 + 8 + 16 + 16 + 32 || (bytes.length - 57) % 16 !== 0)
    throw new FernetError("ERR_FERNET_MALFORMED", "not a Fernet token");
  if (bytes[0] !== 0x80) throw new FernetError("ERR_FERNET_MALFORMED", "unknown Fernet version");
  const signed = bytes.subarray(0, bytes.length - 32);
  const mac = bytes.subarray(bytes.length - 32);
  for (const key of keys) {
    const expected = createHmac("sha256", key.signing).update(signed).digest();
    if (!timingSafeEqual(expected, mac)) continue;
    // Authenticated: only now is the ciphertext touched (no padding oracle).
    const iv = bytes.subarray(9, 25);
    const decipher = createDecipheriv("aes-128-cbc", key.encryption, iv);
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(bytes.subarray(25, bytes.length - 32)), decipher.final()]);
    } catch {
      throw new FernetError("ERR_FERNET_MALFORMED", "the token's padding is invalid");
    }
    return { plaintext, timestamp: new Date(Number(bytes.readBigUInt64BE(1)) * 1000) };
  }
  throw new FernetError(
    "ERR_FERNET_SIGNATURE",
    "the token's HMAC does not verify under any given key (wrong key or tampered token)",
  );
}
