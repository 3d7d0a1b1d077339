// Attack: an attacker with write access to the database edits, truncates, relabels or moves encrypted values to get them accepted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createKeyring, KeyringError } from "./keyring.js";
import type { EncryptionContext, KeyringErrorCode } from "./keyring.js";

const KEY_1 = Buffer.from("8f2a6c1e0b3d5f7a9c2e4f6a8b0d1e3f5a7c9e1b3d5f7a9c0e2f4a6b8d0e1f3a", "hex");
const KEY_2 = Buffer.from("1f3e5d7c9b2a4e6d8c0b1a3f5e7d9c2b4a6e8d0c1b3a5f7e9d2c4b6a8e0d1c3b", "hex");
const CTX: EncryptionContext = { table: "users", column: "totp_secret", row: "row-1" };
const PLAINTEXT = "JBSWY3DPEHPK3PXP-a-totp-secret";

const ring = createKeyring([
  { id: "k2", key: KEY_2 },
  { id: "k1", key: KEY_1 },
]);
const envelope = ring.encrypt(PLAINTEXT, CTX);

function expectRefused(candidate: string, context: EncryptionContext, code: KeyringErrorCode): void {
  try {
    ring.decrypt(candidate, context);
  } catch (error) {
    assert.ok(error instanceof KeyringError, `expected a KeyringError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    // The refusal must not hand back anything worth having.
    for (const secret of [
      PLAINTEXT,
      KEY_1.toString("base64"),
      KEY_2.toString("base64"),
      KEY_1.toString("hex"),
      KEY_2.toString("hex"),
    ]) {
      assert.ok(!error.message.includes(secret), `message leaks: ${error.message}`);
    }
    if (typeof candidate === "string" && candidate.length > 8)
      assert.ok(!error.message.includes(candidate), "message echoes the envelope");
    return;
  }
  assert.fail(`accepted a tampered envelope (expected ${code})`);
}

function editBody(edit: (bytes: Buffer) => Buffer): string {
  const [version, keyId, body] = envelope.split(".");
  const bytes = Buffer.from(body ?? "", "base64url");
  return `${version}.${keyId}.${edit(Buffer.from(bytes)).toString("base64url")}`;
}

function flip(index: (length: number) => number): (bytes: Buffer) => Buffer {
  return (bytes) => {
    bytes[index(bytes.length)]! ^= 0x01;
    return bytes;
  };
}

test("the untampered envelope decrypts (control)", () => {
  assert.equal(ring.decryptString(envelope, CTX), PLAINTEXT);
});

test("a flipped tag byte is refused", () => {
  expectRefused(editBody(flip((n) => n - 1)), CTX, "ERR_DECRYPT_FAILED");
  expectRefused(editBody(flip((n) => n - 16)), CTX, "ERR_DECRYPT_FAILED");
});

test("a flipped ciphertext byte is refused", () => {
  expectRefused(editBody(flip(() => 12)), CTX, "ERR_DECRYPT_FAILED");
  expectRefused(editBody(flip((n) => n - 17)), CTX, "ERR_DECRYPT_FAILED");
});

test("a flipped nonce byte is refused", () => {
  expectRefused(editBody(flip(() => 0)), CTX, "ERR_DECRYPT_FAILED");
  expectRefused(editBody(flip(() => 11)), CTX, "ERR_DECRYPT_FAILED");
});

test("a ciphertext moved to another row, column or table is refused", () => {
  expectRefused(envelope, { ...CTX, row: "row-2" }, "ERR_DECRYPT_FAILED");
  expectRefused(envelope, { ...CTX, column: "recovery_codes" }, "ERR_DECRYPT_FAILED");
  expectRefused(envelope, { ...CTX, table: "admins" }, "ERR_DECRYPT_FAILED");
  expectRefused(envelope, { table: "users", column: "totp_secret", row: "" }, "ERR_DECRYPT_FAILED");
});

test("context fields cannot be shifted across their boundaries", () => {
  // A plain join would encode both of these as "a.b.c.r".
  const shifted = ring.encrypt(PLAINTEXT, { table: "a.b", column: "c", row: "r" });
  expectRefused(shifted, { table: "a", column: "b.c", row: "r" }, "ERR_DECRYPT_FAILED");
  const joined = ring.encrypt(PLAINTEXT, { table: "a", column: "b", row: "c" });
  expectRefused(joined, { table: "a", column: "", row: "b\u0000c" }, "ERR_DECRYPT_FAILED");
  expectRefused(joined, { table: 'a","b', column: "c", row: "" }, "ERR_DECRYPT_FAILED");
});

test("a changed key id in the envelope is refused, even where both ids hold the same key", () => {
  expectRefused(envelope.replace(/^bw1\.k2\./, "bw1.k1."), CTX, "ERR_DECRYPT_FAILED");
  // The key id is part of the associated data, so relabelling fails even when
  // the bytes under both ids are the same.
  const aliased = createKeyring([
    { id: "k2", key: KEY_2 },
    { id: "alias", key: KEY_2 },
  ]);
  const sealed = aliased.encrypt(PLAINTEXT, CTX);
  assert.throws(
    () => aliased.decrypt(sealed.replace(/^bw1\.k2\./, "bw1.alias."), CTX),
    (error: unknown) => error instanceof KeyringError && error.code === "ERR_DECRYPT_FAILED",
  );
});

test("an unknown key id is refused", () => {
  expectRefused(envelope.replace(/^bw1\.k2\./, "bw1.k9."), CTX, "ERR_UNKNOWN_KEY_ID");
  const other = createKeyring([{ id: "elsewhere", key: KEY_1 }]).encrypt(PLAINTEXT, CTX);
  expectRefused(other, CTX, "ERR_UNKNOWN_KEY_ID");
});

test("a truncated envelope is refused", () => {
  expectRefused("bw1", CTX, "ERR_MALFORMED_ENVELOPE");
  expectRefused("bw1.k2", CTX, "ERR_MALFORMED_ENVELOPE");
  expectRefused("bw1.k2.", CTX, "ERR_MALFORMED_ENVELOPE");
  // Shorter than nonce + tag.
  expectRefused(
    editBody((b) => b.subarray(0, 27)),
    CTX,
    "ERR_MALFORMED_ENVELOPE",
  );
  expectRefused(
    editBody((b) => b.subarray(0, 12)),
    CTX,
    "ERR_MALFORMED_ENVELOPE",
  );
  // Long enough to parse, but the tag is now made of other bytes.
  expectRefused(
    editBody((b) => b.subarray(0, b.length - 1)),
    CTX,
    "ERR_DECRYPT_FAILED",
  );
  expectRefused(
    editBody((b) => b.subarray(0, 28)),
    CTX,
    "ERR_DECRYPT_FAILED",
  );
  // Cut mid-character: no longer canonical base64url.
  expectRefused(envelope.slice(0, -1), CTX, "ERR_MALFORMED_ENVELOPE");
});

test("extended or re-encoded envelopes are refused", () => {
  expectRefused(
    editBody((b) => Buffer.concat([b, Buffer.from([0])])),
    CTX,
    "ERR_DECRYPT_FAILED",
  );
  expectRefused(`${envelope}.extra`, CTX, "ERR_MALFORMED_ENVELOPE");
  expectRefused(`${envelope}=`, CTX, "ERR_MALFORMED_ENVELOPE");
  expectRefused(` ${envelope}`, CTX, "ERR_MALFORMED_ENVELOPE");
  const [version, keyId, body] = envelope.split(".");
  const standardBase64 = Buffer.from(body ?? "", "base64url").toString("base64");
  if (standardBase64 !== body) expectRefused(`${version}.${keyId}.${standardBase64}`, CTX, "ERR_MALFORMED_ENVELOPE");
  expectRefused(`${version}.${keyId}.${body}!`, CTX, "ERR_MALFORMED_ENVELOPE");
  expectRefused(`${version}.k 2.${body}`, CTX, "ERR_MALFORMED_ENVELOPE");
});

test("a wrong version prefix is refused", () => {
  for (const prefix of ["bw2", "bw0", "BW1", "bw", "v1", ""]) {
    expectRefused(envelope.replace(/^bw1/, prefix), CTX, "ERR_MALFORMED_ENVELOPE");
  }
});

test("an empty string or a non-string is refused", () => {
  expectRefused("", CTX, "ERR_MALFORMED_ENVELOPE");
  expectRefused("..", CTX, "ERR_MALFORMED_ENVELOPE");
  for (const value of [null, undefined, 42, Buffer.from(envelope)]) {
    expectRefused(value as unknown as string, CTX, "ERR_MALFORMED_ENVELOPE");
  }
});

test("keyIdOf and needsRotation refuse malformed envelopes the same way", () => {
  for (const bad of ["", "bw2.k2.AAAA", "bw1.k2"]) {
    assert.throws(
      () => ring.keyIdOf(bad),
      (e: unknown) => e instanceof KeyringError && e.code === "ERR_MALFORMED_ENVELOPE",
    );
    assert.throws(
      () => ring.needsRotation(bad),
      (e: unknown) => e instanceof KeyringError && e.code === "ERR_MALFORMED_ENVELOPE",
    );
  }
});
