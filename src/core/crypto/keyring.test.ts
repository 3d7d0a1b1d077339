import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import {
  createKeyring,
  generateKeyringEntry,
  KeyringError,
  openAes256Gcm,
  parseKeyring,
  sealAes256Gcm,
} from "./keyring.js";
import type { EncryptionContext } from "./keyring.js";

const KEY_A = Buffer.from("6d1c2f0a9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817060504", "hex");
const KEY_B = Buffer.from("f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff", "hex");
const KEY_C = Buffer.from("0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", "hex");
const CTX: EncryptionContext = { table: "mfa_factors", column: "secret", row: "0190f7a2c1d84e6f9a0b1c2d3e4f5061" };

const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function assertKeyringError(fn: () => unknown, code: string): KeyringError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof KeyringError, `expected a KeyringError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a KeyringError ${code}, nothing was thrown`);
}

test("round trip: string and bytes", () => {
  const ring = createKeyring([{ id: "k1", key: KEY_A }]);
  const envelope = ring.encrypt("JBSWY3DPEHPK3PXP", CTX);
  assert.equal(ring.decryptString(envelope, CTX), "JBSWY3DPEHPK3PXP");

  const bytes = Buffer.from([0, 1, 2, 254, 255]);
  assert.deepEqual(ring.decrypt(ring.encrypt(bytes, CTX), CTX), bytes);

  assert.equal(ring.decryptString(ring.encrypt("", CTX), CTX), "");
  assert.equal(ring.decryptString(ring.encrypt("héllo ✓ 🔐", CTX), CTX), "héllo ✓ 🔐");
});

test("envelope is bw1.<active key id>.<base64url(nonce ‖ ciphertext ‖ tag)>", () => {
  const ring = parseKeyring(`k2:${KEY_B.toString("base64")},k1:${KEY_A.toString("base64")}`);
  assert.equal(ring.activeId, "k2");
  assert.deepEqual(ring.ids, ["k2", "k1"]);
  const plaintext = "sixteen byte msg";
  const envelope = ring.encrypt(plaintext, CTX);
  const [version, keyId, body, ...rest] = envelope.split(".");
  assert.equal(version, "bw1");
  assert.equal(keyId, "k2");
  assert.deepEqual(rest, []);
  assert.match(body ?? "", /^[A-Za-z0-9_-]+$/);
  assert.equal(Buffer.from(body ?? "", "base64url").length, 12 + plaintext.length + 16);
  assert.equal(ring.keyIdOf(envelope), "k2");
  assert.equal(ring.needsRotation(envelope), false);
});

test("decrypting with an older (non-first) key works, and the envelope needs rotation", () => {
  const before = createKeyring([{ id: "k1", key: KEY_A }]);
  const old = before.encrypt("written before the rotation", CTX);

  const after = createKeyring([
    { id: "k2", key: KEY_B },
    { id: "k1", key: KEY_A },
  ]);
  assert.equal(after.decryptString(old, CTX), "written before the rotation");
  assert.equal(after.keyIdOf(old), "k1");
  assert.equal(after.needsRotation(old), true);

  const rotated = after.encrypt(after.decrypt(old, CTX), CTX);
  assert.equal(after.keyIdOf(rotated), "k2");
  assert.equal(after.needsRotation(rotated), false);
  assert.equal(after.decryptString(rotated, CTX), "written before the rotation");
});

test("two encryptions of the same plaintext differ (fresh nonce each time)", () => {
  const ring = createKeyring([{ id: "k1", key: KEY_A }]);
  const seen = new Set<string>();
  const nonces = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const envelope = ring.encrypt("same plaintext", CTX);
    seen.add(envelope);
    nonces.add(
      Buffer.from(envelope.split(".")[2] ?? "", "base64url")
        .subarray(0, 12)
        .toString("hex"),
    );
  }
  assert.equal(seen.size, 200);
  assert.equal(nonces.size, 200);
});

test("parseKeyring accepts base64 and base64url, with or without padding, and spaces around entries", () => {
  const keyB = Buffer.from("fbfffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1", "hex");
  const std = keyB.toString("base64");
  const url = keyB.toString("base64url");
  assert.match(std, /[+/]/);
  assert.match(url, /[-_]/);
  const envelope = createKeyring([{ id: "x", key: keyB }]).encrypt("ok", CTX);
  for (const spec of [`x:${std}`, `x:${std.replace(/=+$/, "")}`, `x:${url}`, `x:${url}=`, ` x : ${std} `]) {
    assert.equal(parseKeyring(spec).decryptString(envelope, CTX), "ok", spec);
  }
  const ring = parseKeyring(`new_2026-01:${KEY_A.toString("base64")} , old:${KEY_B.toString("base64url")}`);
  assert.deepEqual(ring.ids, ["new_2026-01", "old"]);
});

test("parseKeyring refuses every bad spec with ERR_KEYRING_CONFIG and no key material in the message", () => {
  const good = KEY_A.toString("base64");
  const long = Buffer.concat([KEY_A, Buffer.from([1])]).toString("base64");
  const short = KEY_A.subarray(0, 31).toString("base64");
  // The last of 43 base64url characters carries 2 key bits and 4 zero bits;
  // setting one of those zero bits decodes to the same 32 bytes.
  const url = KEY_A.toString("base64url");
  const nonCanonical = url.slice(0, 42) + BASE64URL_ALPHABET[BASE64URL_ALPHABET.indexOf(url[42] ?? "") | 1];
  const bad: [string, string][] = [
    ["empty", ""],
    ["blank", "   "],
    ["no id", good],
    ["empty id", `:${good}`],
    ["id with a bad character", `k.1:${good}`],
    ["id with a space inside", `k 1:${good}`],
    ["id over 32 characters", `${"k".repeat(33)}:${good}`],
    ["duplicate id", `k1:${good},k1:${KEY_B.toString("base64")}`],
    ["empty entry", `k1:${good},`],
    ["empty key", "k1:"],
    ["key of 31 bytes", `k1:${short}`],
    ["key of 33 bytes", `k1:${long}`],
    ["key not base64", `k1:${good.slice(0, 40)}!!!=`],
    ["key given as hex", `k1:${KEY_A.toString("hex")}`],
    ["non-canonical base64", `k1:${nonCanonical}`],
    ["all-zero key", `k1:${Buffer.alloc(32).toString("base64")}`],
    ["repeated-byte key", `k1:${Buffer.alloc(32, 0x41).toString("base64")}`],
  ];
  for (const [label, spec] of bad) {
    const error = assertKeyringError(() => parseKeyring(spec), "ERR_KEYRING_CONFIG");
    for (const secret of [good, url, KEY_A.toString("hex"), short, long, nonCanonical]) {
      assert.ok(!error.message.includes(secret), `${label}: message leaks key material: ${error.message}`);
    }
  }
});

test("createKeyring refuses no keys, bad ids, duplicate ids and wrong key sizes", () => {
  assertKeyringError(() => createKeyring([]), "ERR_KEYRING_CONFIG");
  assertKeyringError(() => createKeyring([{ id: "", key: KEY_A }]), "ERR_KEYRING_CONFIG");
  assertKeyringError(() => createKeyring([{ id: "a/b", key: KEY_A }]), "ERR_KEYRING_CONFIG");
  assertKeyringError(
    () =>
      createKeyring([
        { id: "k1", key: KEY_A },
        { id: "k1", key: KEY_B },
      ]),
    "ERR_KEYRING_CONFIG",
  );
  assertKeyringError(() => createKeyring([{ id: "k1", key: KEY_A.subarray(0, 16) }]), "ERR_KEYRING_CONFIG");
  assertKeyringError(() => createKeyring([{ id: "k1", key: new Uint8Array(64).fill(7) }]), "ERR_KEYRING_CONFIG");
});

test("the keyring copies its keys and never shows them", () => {
  const key = Buffer.from(KEY_C);
  const ring = createKeyring([{ id: "k1", key }]);
  const envelope = ring.encrypt("kept", CTX);
  key.fill(0x99); // the caller reusing its buffer must not change the keyring
  assert.equal(ring.decryptString(envelope, CTX), "kept");
  for (const shown of [JSON.stringify(ring), inspect(ring, { depth: 10, showHidden: true })]) {
    assert.ok(!shown.includes(KEY_C.toString("base64")));
    assert.ok(!shown.includes(KEY_C.toString("hex")));
  }
});

test("generateKeyringEntry makes a parseable id:<base64 of 32 bytes> entry", () => {
  const entry = generateKeyringEntry();
  assert.match(entry, /^k\d{8}-[0-9A-Za-z]{4}:[A-Za-z0-9+/]{43}=$/);
  const ring = parseKeyring(entry);
  assert.equal(ring.decryptString(ring.encrypt("x", CTX), CTX), "x");

  const named = generateKeyringEntry("prod-2026");
  assert.match(named, /^prod-2026:[A-Za-z0-9+/]{43}=$/);
  assert.notEqual(generateKeyringEntry("a").split(":")[1], generateKeyringEntry("a").split(":")[1]);
  assertKeyringError(() => generateKeyringEntry("bad id"), "ERR_KEYRING_CONFIG");

  const rotated = parseKeyring(`${generateKeyringEntry()},${entry}`);
  assert.equal(rotated.ids.length, 2);
});

type GcmVector = {
  group: string;
  count?: number;
  key: string;
  iv: string;
  pt: string;
  aad: string;
  ct: string;
  tag: string;
};

function loadNistGcm(): GcmVector[] {
  const raw: unknown = JSON.parse(
    readFileSync(new URL("../../../test/vectors/nist-aes256-gcm.json", import.meta.url), "utf8"),
  );
  assert.ok(typeof raw === "object" && raw !== null && "cases" in raw && Array.isArray(raw.cases));
  return raw.cases as GcmVector[];
}

const nist = loadNistGcm();

test("NIST vectors file covers empty plaintext, AAD, and both together", () => {
  assert.ok(nist.length >= 10);
  assert.ok(nist.some((v) => v.pt === "" && v.aad === ""));
  assert.ok(nist.some((v) => v.pt === "" && v.aad !== ""));
  assert.ok(nist.some((v) => v.pt !== "" && v.aad !== ""));
  for (const v of nist) {
    assert.equal(v.key.length, 64);
    assert.equal(v.iv.length, 24);
    assert.equal(v.tag.length, 32);
    assert.equal(v.ct.length, v.pt.length);
  }
});

for (const [index, v] of nist.entries()) {
  test(`AES-256-GCM matches NIST gcmEncryptExtIV256 ${v.group}${v.count === undefined ? "" : ` Count = ${v.count}`} (#${index})`, () => {
    const key = Buffer.from(v.key, "hex");
    const iv = Buffer.from(v.iv, "hex");
    const pt = Buffer.from(v.pt, "hex");
    const aad = Buffer.from(v.aad, "hex");
    const sealed = sealAes256Gcm(key, iv, pt, aad);
    assert.equal(sealed.toString("hex"), v.ct + v.tag);
    assert.equal(openAes256Gcm(key, iv, Buffer.from(v.ct + v.tag, "hex"), aad).toString("hex"), v.pt);

    const forged = Buffer.from(v.ct + v.tag, "hex");
    forged[forged.length - 1]! ^= 0x01;
    assert.throws(() => openAes256Gcm(key, iv, forged, aad));
  });
}

test("openAes256Gcm refuses a truncated tag instead of checking fewer bytes", () => {
  const v = nist.find((c) => c.pt !== "" && c.aad !== "");
  assert.ok(v);
  const key = Buffer.from(v.key, "hex");
  const iv = Buffer.from(v.iv, "hex");
  const aad = Buffer.from(v.aad, "hex");
  // ciphertext ‖ first 4 bytes of the tag: the last 16 bytes are then read as
  // the tag and fail, rather than a 4-byte tag being accepted.
  const truncated = Buffer.from(v.ct + v.tag.slice(0, 8), "hex");
  assert.throws(() => openAes256Gcm(key, iv, truncated, aad));
  assert.throws(() => openAes256Gcm(key, iv, Buffer.from(v.tag.slice(0, 8), "hex"), aad), RangeError);
});

test("seal and open refuse a nonce that is not 96 bits", () => {
  const pt = Buffer.from("x");
  assert.throws(() => sealAes256Gcm(KEY_A, Buffer.alloc(16), pt, Buffer.alloc(0)), RangeError);
  assert.throws(() => sealAes256Gcm(KEY_A, Buffer.alloc(8), pt, Buffer.alloc(0)), RangeError);
  assert.throws(() => openAes256Gcm(KEY_A, Buffer.alloc(16), Buffer.alloc(17), Buffer.alloc(0)), RangeError);
});
