// The crypto core: small pure functions over node:crypto. Import from here, not from the files beside it.
export { BASE62, encodeBase62, randomBase62, randomToken } from "./random.js";
export { hmacSha256, hmacSha256Hex, sha256, sha256Hex, timingSafeEqualBytes, timingSafeEqualString } from "./hash.js";
export { createKeyring, generateKeyringEntry, KeyringError, parseKeyring } from "./keyring.js";
export type { EncryptionContext, Keyring, KeyringErrorCode } from "./keyring.js";
export { ARGON2ID_PARAMS, createPasswordHasher, isVerifiableHash } from "./password.js";
export type {
  HasherTicket,
  PasswordHasher,
  PasswordHasherOptions,
  PasswordHasherStats,
  PasswordHasherWork,
} from "./password.js";
