// The ENCRYPTION_KEYS keyring: AES-256-GCM encryption at rest, bound to its row, with routine key rotation.
//
// Setting format (ENCRYPTION_KEYS):
//   <id>:<key>[,<id>:<key>...]
//   id   [A-Za-z0-9_-]{1,32}, unique within the keyring
//   key  exactly 32 bytes, base64 or base64url, padding optional
// The first key is active (every new encryption uses it); the others only
// decrypt, so rotation is: prepend a new key, re-encrypt rows whose envelope
// `needsRotation`, then drop the old key.
//
// Envelope format (what is stored in the column):
//   bw1.<keyId>.<base64url(nonce ‖ ciphertext ‖ tag)>
//   bw1         envelope version: AES-256-GCM, 96-bit nonce, 128-bit tag,
//               associated data as below
//   keyId       the id of the key that encrypted it
//   nonce       12 random bytes, fresh for every encryption
//   ciphertext  as long as the plaintext
//   tag         16 bytes
// Associated data (authenticated, not stored): the UTF-8 JSON array
//   ["bw1", keyId, table, column, row]
// so a ciphertext only decrypts in the row and column it was written for,
// under the key id and version it names.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { randomBase62 } from "./random.js";

/** Where a value lives; encryption binds the ciphertext to it, so it cannot be moved elsewhere. */
export type EncryptionContext = { table: string; column: string; row: string };

/** A parsed keyring: encrypts with the active (first) key, decrypts with any key it holds. */
export type Keyring = {
  /** The id of the key every new encryption uses. */
  readonly activeId: string;
  /** Every key id, active first. */
  readonly ids: readonly string[];
  /** Encrypt under the active key, bound to `context`; returns a `bw1.` envelope. */
  encrypt(plaintext: string | Uint8Array, context: EncryptionContext): string;
  /** Decrypt an envelope written for `context`, with the key it names. */
  decrypt(envelope: string, context: EncryptionContext): Buffer;
  /** Decrypt an envelope written for `context` and decode it as UTF-8. */
  decryptString(envelope: string, context: EncryptionContext): string;
  /** The key id an envelope names (without decrypting it). */
  keyIdOf(envelope: string): string;
  /** Whether an envelope was written under a key other than the active one. */
  needsRotation(envelope: string): boolean;
};

/** Stable keyring error codes. */
export type KeyringErrorCode =
  "ERR_KEYRING_CONFIG" | "ERR_UNKNOWN_KEY_ID" | "ERR_MALFORMED_ENVELOPE" | "ERR_DECRYPT_FAILED";

/** A keyring configuration or decryption failure; messages never contain key material or plaintext. */
export class KeyringError extends Error {
  readonly code: KeyringErrorCode;

  constructor(code: KeyringErrorCode, message: string) {
    super(message);
    this.name = "KeyringError";
    this.code = code;
  }
}

const VERSION = "bw1";
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64_ANY = /^[A-Za-z0-9+/_-]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Parse an ENCRYPTION_KEYS setting (`id:base64,id2:base64`, first key active); throws ERR_KEYRING_CONFIG. */
export function parseKeyring(spec: string): Keyring {
  if (typeof spec !== "string" || spec.trim() === "") {
    throw configError(
      "ENCRYPTION_KEYS is empty; set it to id:<base64 of 32 random bytes> (`bulwark secrets generate`)",
    );
  }
  const entries = spec.split(",").map((raw, index) => {
    const entry = raw.trim();
    const n = index + 1;
    const colon = entry.indexOf(":");
    // Messages name the entry by position and never echo its text: a
    // malformed entry may well be key material (a key pasted without its id).
    if (colon < 0) throw configError(`ENCRYPTION_KEYS entry ${n} is not of the form id:key`);
    const id = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    if (!KEY_ID.test(id)) throw configError(`ENCRYPTION_KEYS entry ${n}: the key id must match [A-Za-z0-9_-]{1,32}`);
    return { id, key: decodeKey(encoded, `ENCRYPTION_KEYS entry ${n} (id ${id})`) };
  });
  return createKeyring(entries);
}

/** Build a keyring from raw 32-byte keys, the first active; throws ERR_KEYRING_CONFIG. */
export function createKeyring(keys: { id: string; key: Uint8Array }[]): Keyring {
  if (keys.length === 0) throw configError("a keyring needs at least one key");
  const byId = new Map<string, KeyObject>();
  for (const [index, { id, key }] of keys.entries()) {
    if (typeof id !== "string" || !KEY_ID.test(id)) {
      throw configError(`key ${index + 1}: the key id must match [A-Za-z0-9_-]{1,32}`);
    }
    if (byId.has(id)) throw configError(`duplicate key id ${id}: each id must name exactly one key`);
    // AES-256 needs exactly 32 bytes; a shorter key would silently be a
    // different (weaker) cipher or padded by someone, a longer one truncated.
    if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
      throw configError(`key ${id} must be exactly ${KEY_BYTES} bytes`);
    }
    // A key made of one repeated byte (all zeros, all 0x41...) is a
    // placeholder, not random output: refuse it like any example secret.
    if (key.every((byte) => byte === key[0])) {
      throw configError(`key ${id} is one byte repeated, not random; generate one with \`bulwark secrets generate\``);
    }
    // Held as KeyObjects (copied from the caller's bytes): the material stays
    // out of JSON.stringify, util.inspect and logs, and later changes to the
    // caller's buffer cannot change the keyring.
    byId.set(id, createSecretKey(Buffer.from(key)));
  }
  const ids = Object.freeze([...byId.keys()]);
  const activeId = ids[0]!;
  const activeKey = byId.get(activeId)!;

  const decrypt = (envelope: string, context: EncryptionContext): Buffer => {
    const { keyId, nonce, sealed } = parseEnvelope(envelope);
    const key = byId.get(keyId);
    if (key === undefined) throw new KeyringError("ERR_UNKNOWN_KEY_ID", `no key with id ${keyId} in ENCRYPTION_KEYS`);
    try {
      return openAes256Gcm(key, nonce, sealed, associatedData(keyId, context));
    } catch {
      // One message for every cause (wrong key, wrong context, tampering) and
      // nothing from the envelope, the key or the underlying error.
      throw new KeyringError(
        "ERR_DECRYPT_FAILED",
        "envelope failed authentication (wrong key, wrong context or tampered data)",
      );
    }
  };

  return Object.freeze({
    activeId,
    ids,
    encrypt(plaintext: string | Uint8Array, context: EncryptionContext): string {
      const data = typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext;
      // A fresh random 96-bit nonce each time: GCM loses confidentiality and
      // authenticity if a nonce ever repeats under one key, and 2^32
      // encryptions per key keep the collision chance below 2^-32 (NIST SP 800-38D).
      const nonce = randomBytes(NONCE_BYTES);
      const sealed = sealAes256Gcm(activeKey, nonce, data, associatedData(activeId, context));
      return `${VERSION}.${activeId}.${Buffer.concat([nonce, sealed]).toString("base64url")}`;
    },
    decrypt,
    decryptString(envelope: string, context: EncryptionContext): string {
      return decrypt(envelope, context).toString("utf8");
    },
    keyIdOf(envelope: string): string {
      return parseEnvelope(envelope).keyId;
    },
    needsRotation(envelope: string): boolean {
      return parseEnvelope(envelope).keyId !== activeId;
    },
  });
}

/** A new keyring entry, `id:<base64 of 32 CSPRNG bytes>`, to prepend to ENCRYPTION_KEYS. */
export function generateKeyringEntry(id: string = defaultKeyId()): string {
  if (!KEY_ID.test(id)) throw configError("the key id must match [A-Za-z0-9_-]{1,32}");
  return `${id}:${randomBytes(KEY_BYTES).toString("base64")}`;
}

/**
 * AES-256-GCM with a 16-byte tag; returns ciphertext ‖ tag.
 * @internal the one encryption path of the keyring, exported so the NIST vectors test exactly this code.
 */
export function sealAes256Gcm(
  key: Uint8Array | KeyObject,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Buffer {
  // GCM accepts other nonce lengths, but only 96 bits is used directly as the
  // counter block; anything else is hashed first and weakens the bounds.
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`AES-256-GCM nonce must be ${NONCE_BYTES} bytes`);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/**
 * Open ciphertext ‖ tag sealed by sealAes256Gcm; throws if authentication fails.
 * @internal the one decryption path of the keyring, exported so the NIST vectors test exactly this code.
 */
export function openAes256Gcm(
  key: Uint8Array | KeyObject,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Buffer {
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`AES-256-GCM nonce must be ${NONCE_BYTES} bytes`);
  if (sealed.length < TAG_BYTES) throw new RangeError("AES-256-GCM input is shorter than its tag");
  // authTagLength is fixed at 16: without it Node accepts a truncated tag
  // (down to 4 bytes), which would let a forger guess a much shorter tag.
  const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  decipher.setAAD(aad);
  const plaintext = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
  // final() checks the tag; until it returns, `plaintext` is unauthenticated
  // and must not leave this function.
  return Buffer.concat([plaintext, decipher.final()]);
}

// A JSON array of strings is unambiguous: ("a.b", "c") and ("a", "b.c")
// encode differently, which a plain join would not guarantee. The key id and
// version are included so an envelope's header cannot be edited to steer it
// to another key or format.
function associatedData(keyId: string, context: EncryptionContext): Buffer {
  return Buffer.from(JSON.stringify([VERSION, keyId, context.table, context.column, context.row]), "utf8");
}

function parseEnvelope(envelope: string): { keyId: string; nonce: Buffer; sealed: Buffer } {
  if (typeof envelope !== "string") throw malformed("an envelope must be a string");
  const parts = envelope.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) throw malformed(`not a ${VERSION} envelope`);
  const keyId = parts[1]!;
  const body = parts[2]!;
  if (!KEY_ID.test(keyId)) throw malformed("the envelope's key id is not well formed");
  // Strict base64url: Buffer.from(..., "base64url") skips invalid characters
  // and ignores trailing bits, so check the text and that it round-trips.
  if (!BASE64URL.test(body)) throw malformed("the envelope body is not base64url");
  const bytes = Buffer.from(body, "base64url");
  if (bytes.toString("base64url") !== body) throw malformed("the envelope body is not canonical base64url");
  if (bytes.length < NONCE_BYTES + TAG_BYTES) throw malformed("the envelope is too short");
  return { keyId, nonce: bytes.subarray(0, NONCE_BYTES), sealed: bytes.subarray(NONCE_BYTES) };
}

function decodeKey(encoded: string, label: string): Uint8Array {
  if (!BASE64_ANY.test(encoded)) throw configError(`${label}: the key is not base64 or base64url`);
  const canonical = encoded.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const bytes = Buffer.from(canonical, "base64url");
  if (bytes.length !== KEY_BYTES)
    throw configError(`${label}: the key must decode to exactly ${KEY_BYTES} bytes, not ${bytes.length}`);
  // Refuse non-canonical text (stray low bits in the last character): two
  // different settings must never silently be the same key.
  if (bytes.toString("base64url") !== canonical) throw configError(`${label}: the key is not canonical base64`);
  return bytes;
}

function defaultKeyId(now = new Date()): string {
  // Date first so ids sort by age at a glance; a random suffix so two keys
  // generated on the same day never collide.
  return `k${now.toISOString().slice(0, 10).replace(/-/g, "")}-${randomBase62(4)}`;
}

function configError(message: string): KeyringError {
  return new KeyringError("ERR_KEYRING_CONFIG", message);
}

function malformed(message: string): KeyringError {
  return new KeyringError("ERR_MALFORMED_ENVELOPE", message);
}
