import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import bcryptjs from "bcryptjs";
import { argon2d, argon2i, argon2id, argon2Verify } from "hash-wasm";
import { betterAuthHash } from "../../../test/foreign-hashes.js";
import { ARGON2ID_PARAMS, createPasswordHasher, isVerifiableHash } from "./password.js";

type Argon2Case = {
  type: "argon2id" | "argon2i";
  t: number;
  m: number;
  p: number;
  password: string;
  salt: string;
  hex: string;
  phc: string;
};
type BcryptCase = { origin: string; password: string; hash: string };

function loadCases<T>(file: string): T[] {
  const raw: unknown = JSON.parse(readFileSync(new URL(`../../../test/vectors/${file}`, import.meta.url), "utf8"));
  assert.ok(typeof raw === "object" && raw !== null && "cases" in raw && Array.isArray(raw.cases));
  return raw.cases as T[];
}

const argon2Vectors = loadCases<Argon2Case>("password-argon2.json");
const bcryptVectors = loadCases<BcryptCase>("password-bcrypt.json");
const hasher = createPasswordHasher();

/** An Argon2 PHC string made by hash-wasm (WebAssembly build of the reference code), not by @node-rs/argon2. */
async function foreignArgon2(
  password: string,
  params: { kind?: "id" | "i" | "d"; m?: number; t?: number; p?: number } = {},
): Promise<string> {
  const fn = { id: argon2id, i: argon2i, d: argon2d }[params.kind ?? "id"];
  return fn({
    password,
    salt: randomBytes(16),
    memorySize: params.m ?? ARGON2ID_PARAMS.memoryCost,
    iterations: params.t ?? ARGON2ID_PARAMS.timeCost,
    parallelism: params.p ?? ARGON2ID_PARAMS.parallelism,
    hashLength: 32,
    outputType: "encoded",
  });
}

test("hash then verify: the right password matches, a wrong one does not", async () => {
  const stored = await hasher.hash("correct horse battery staple");
  assert.equal(await hasher.verify(stored, "correct horse battery staple"), true);
  assert.equal(await hasher.verify(stored, "correct horse battery stapler"), false);
  assert.equal(await hasher.verify(stored, ""), false);
});

test("hash writes an Argon2id PHC string with m=19456,t=2,p=1, a 16-byte salt and a 32-byte tag", async () => {
  const stored = await hasher.hash("correct horse battery staple");
  const match = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(stored);
  assert.ok(match, stored);
  assert.equal(Buffer.from(match[1] ?? "", "base64").length, 16);
  assert.equal(Buffer.from(match[2] ?? "", "base64").length, 32);
  assert.ok(!stored.includes("correct horse"));
});

test("the same password hashes differently each time (random salt)", async () => {
  const [a, b] = await Promise.all([hasher.hash("same password twice"), hasher.hash("same password twice")]);
  assert.notEqual(a, b);
});

test("hash covers the UTF-8 bytes of the string as given: no normalisation here, no truncation", async () => {
  const composed = "caf\u00e9 au lait s'il vous pla\u00eet";
  const stored = await hasher.hash(composed);
  assert.equal(await hasher.verify(stored, composed), true);
  assert.equal(await hasher.verify(stored, composed.normalize("NFD")), false);
  const long = "x".repeat(200);
  const longHash = await hasher.hash(long);
  assert.equal(await hasher.verify(longHash, "x".repeat(199)), false);
  assert.equal(await hasher.verify(longHash, long), true);
});

test("a hash made here verifies with another Argon2 implementation (hash-wasm)", async () => {
  const stored = await hasher.hash("p\u00e4ssw\u00f6rd \u{1F511} in two libraries");
  assert.equal(await argon2Verify({ password: "p\u00e4ssw\u00f6rd \u{1F511} in two libraries", hash: stored }), true);
});

test("Argon2id PHC strings made by another implementation (hash-wasm) verify", async () => {
  for (const password of ["correct horse battery staple", "p\u00e4ssw\u00f6rd \u{1F511}", "x"]) {
    const stored = await foreignArgon2(password);
    assert.equal(await hasher.verify(stored, password), true, stored);
    assert.equal(await hasher.verify(stored, `${password}!`), false);
  }
  const stronger = await foreignArgon2("stronger parameters", { m: 24576, t: 3, p: 2 });
  assert.equal(await hasher.verify(stronger, "stronger parameters"), true);
});

test("argon2i and argon2d hashes are accepted for verification", async () => {
  const i = await foreignArgon2("legacy argon2i", { kind: "i" });
  const d = await foreignArgon2("legacy argon2d", { kind: "d" });
  assert.equal(await hasher.verify(i, "legacy argon2i"), true);
  assert.equal(await hasher.verify(d, "legacy argon2d"), true);
  assert.equal(await hasher.verify(i, "legacy argon2d"), false);
});

test("Argon2 reference implementation vectors file holds argon2id and argon2i cases", () => {
  assert.ok(argon2Vectors.filter((c) => c.type === "argon2id").length >= 5);
  assert.ok(argon2Vectors.some((c) => c.type === "argon2i"));
  for (const c of argon2Vectors) {
    // The PHC string's tag is the published raw output, and its parameters are the case's.
    assert.equal(Buffer.from(c.phc.split("$").at(-1) ?? "", "base64").toString("hex"), c.hex);
    assert.ok(
      c.phc.startsWith(
        `$${c.type}$v=19$m=${c.m},t=${c.t},p=${c.p}$${Buffer.from(c.salt).toString("base64").replace(/=+$/, "")}$`,
      ),
    );
  }
});

for (const c of argon2Vectors) {
  test(`Argon2 reference vector verifies: ${c.type} m=${c.m},t=${c.t},p=${c.p} "${c.password}"/"${c.salt}"`, async () => {
    assert.equal(await hasher.verify(c.phc, c.password), true);
    assert.equal(await hasher.verify(c.phc, "passwore"), false);
  });
}

test("bcrypt vectors file covers $2a$, $2b$ and $2y$", () => {
  for (const label of ["$2a$", "$2b$", "$2y$"]) {
    assert.ok(
      bcryptVectors.some((c) => c.hash.startsWith(label)),
      label,
    );
  }
});

for (const c of bcryptVectors) {
  test(`published bcrypt vector verifies: ${c.hash.slice(0, 7)} ${JSON.stringify(c.password).slice(0, 24)} (${c.origin})`, async () => {
    assert.equal(await hasher.verify(c.hash, c.password), true);
    assert.equal(await hasher.verify(c.hash, `x${c.password}`), false);
  });
}

test("bcrypt hashes made by another implementation (bcryptjs) verify as $2a$, $2b$ and $2y$", async () => {
  for (const password of ["correct horse battery staple", "p\u00e4ssw\u00f6rd \u{1F511}"]) {
    const salt = bcryptjs.genSaltSync(4);
    assert.ok(salt.startsWith("$2b$04$"));
    for (const label of ["2a", "2b", "2y"]) {
      const stored = bcryptjs.hashSync(password, salt.replace("$2b$", `$${label}$`));
      assert.ok(stored.startsWith(`$${label}$04$`), stored);
      assert.equal(await hasher.verify(stored, password), true, stored);
      assert.equal(await hasher.verify(stored, `${password}?`), false);
    }
  }
});

test("$2x$ (crypt_blowfish's marker for the buggy algorithm) is not accepted", async () => {
  const stored = bcryptjs.hashSync("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.");
  assert.equal(await hasher.verify(stored, "U*U"), true);
  assert.equal(await hasher.verify(stored.replace("$2a$", "$2x$"), "U*U"), false);
});

test("needsRehash: false for a current hash, true for bcrypt, argon2i/d and weaker argon2id", async () => {
  assert.equal(hasher.needsRehash(await hasher.hash("current parameters")), false);
  assert.equal(hasher.needsRehash(await foreignArgon2("current parameters elsewhere")), false);
  assert.equal(hasher.needsRehash(await foreignArgon2("stronger", { m: 24576, t: 3, p: 2 })), false);

  for (const c of bcryptVectors.filter((_, i) => i % 5 === 0)) assert.equal(hasher.needsRehash(c.hash), true, c.hash);
  assert.equal(hasher.needsRehash(await foreignArgon2("argon2i", { kind: "i" })), true);
  assert.equal(hasher.needsRehash(await foreignArgon2("argon2d", { kind: "d" })), true);
  assert.equal(hasher.needsRehash(await foreignArgon2("less memory", { m: 4096 })), true);
  assert.equal(hasher.needsRehash(await foreignArgon2("fewer passes", { t: 1 })), true);
  assert.equal(
    hasher.needsRehash(await foreignArgon2("argon2id m=12288 t=3 p=1 (OWASP's third option)", { m: 12288, t: 3 })),
    true,
  );
  // The reference vectors use an 8-byte salt, below the 16 bytes of a new hash.
  const reference = argon2Vectors.find((c) => c.type === "argon2id" && c.m === 65536 && c.t === 2);
  assert.ok(reference);
  assert.equal(hasher.needsRehash(reference.phc), true);
  for (const bad of ["", "plaintext", "$argon2id$garbage"]) assert.equal(hasher.needsRehash(bad), true, bad);
});

test("malformed and unknown hashes verify as false without throwing", async () => {
  const stored = await hasher.hash("some password here");
  const cases = [
    "",
    "$argon2id$garbage",
    "plaintext",
    "$2b$04$short",
    "!",
    "$argon2id$v=19$m=19456,t=2,p=1$",
    stored.slice(0, -4),
    `${stored}AAAA`,
    stored.replace("$argon2id$", "$argon2xy$"),
    "$2b$03$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm",
    "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YE",
    "$5$rounds=5000$salt$hash",
    "5f4dcc3b5aa765d61d8327deb882cf99",
  ];
  for (const bad of cases) {
    assert.equal(await hasher.verify(bad, "some password here"), false, JSON.stringify(bad));
    assert.equal(await hasher.verify(bad, bad), false, JSON.stringify(bad));
  }
});

test("hashes whose stored cost is out of bounds are refused rather than run", async () => {
  const heavy = "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
  const slowBcrypt = "$2b$31$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm";
  const started = performance.now();
  assert.equal(await hasher.verify(heavy, "password"), false);
  assert.equal(await hasher.verify(slowBcrypt, "Kk4DQuMMfZL9o"), false);
  // Only the dummy verification ran (tens of milliseconds), not a 4 GiB Argon2 or 2^31 bcrypt rounds.
  assert.ok(performance.now() - started < 5000);
});

test("verifyDummy performs exactly one verification and never matches", async () => {
  const fresh = createPasswordHasher();
  const before = fresh.stats();
  assert.equal(await fresh.verifyDummy("correct horse battery staple"), false);
  const after = fresh.stats();
  assert.equal(after.verifications - before.verifications, 1);
  assert.equal(after.hashes, before.hashes);
  assert.equal(after.inFlight, 0);
  assert.equal(after.queued, 0);
});

test("an unknown user and a known user with a wrong password each cost one verification", async () => {
  const fresh = createPasswordHasher();
  const stored = await fresh.hash("the real password");
  assert.deepEqual(fresh.stats(), { hashes: 1, verifications: 0, inFlight: 0, queued: 0, admitted: 0 });
  await fresh.verify(stored, "a wrong password");
  assert.equal(fresh.stats().verifications, 1);
  await fresh.verifyDummy("a wrong password");
  assert.equal(fresh.stats().verifications, 2);
});

test("createPasswordHasher refuses nonsensical limits", () => {
  assert.throws(() => createPasswordHasher({ maxConcurrent: 0 }), RangeError);
  assert.throws(() => createPasswordHasher({ maxConcurrent: 1.5 }), RangeError);
  assert.throws(() => createPasswordHasher({ maxQueue: -1 }), RangeError);
});

test("Better Auth's scrypt hashes (made by hash-wasm) verify, are upgraded, and only their exact shape is taken", async () => {
  const stored = await betterAuthHash("correct horse battery staple");
  assert.equal(await hasher.verify(stored, "correct horse battery staple"), true);
  assert.equal(await hasher.verify(stored, "correct horse battery stapler"), false);
  assert.equal(hasher.needsRehash(stored), true);
  assert.equal(isVerifiableHash(stored), true);
  // NFKC on both sides, as Better Auth does: the full-width spelling is the same password.
  const wide = await betterAuthHash("ｐａｓｓｗｏｒｄ full width");
  assert.equal(await hasher.verify(wide, "password full width"), true);
  for (const shape of [stored.toUpperCase(), stored.slice(1), `${stored}0`, stored.replace(":", "$")]) {
    assert.equal(isVerifiableHash(shape), false, shape);
    assert.equal(await hasher.verify(shape, "correct horse battery staple"), false);
  }
});
