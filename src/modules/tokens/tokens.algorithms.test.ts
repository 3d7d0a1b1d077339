// Attack: algorithm substitution — a token whose header names another algorithm (none, HMAC keyed with our public key, RSA, ECDSA, or Ed25519 under another name), refused by the allow-list before any key is chosen.
// jose would refuse most of these anyway (the key type does not fit); the allow-list is kept on purpose
// as the first check, and these tests pin it: the refusal is "algorithm", even for a kid we do not hold.
import assert from "node:assert/strict";
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { after, before, test } from "node:test";
import { sql } from "drizzle-orm";
import { testAudit, testStore } from "../../../test/harness.js";
import { createFakeClock } from "../../core/clock.js";
import { generateKeyringEntry, parseKeyring } from "../../core/crypto/index.js";
import { AppError } from "../../core/errors.js";
import { rowsOf, type Store } from "../../store/db.js";
import { createPubSub } from "../../store/pubsub.js";
import { createTokenService, type TokenService, type VerifyFailure } from "./index.js";

const PUBLIC_URL = "https://id.example.test";
let store: Store;
let tokens: TokenService;
let reasons: VerifyFailure[];
let kid: string;
let ourKey: KeyObject;
const clock = createFakeClock(Date.UTC(2026, 0, 1, 12));

before(async () => {
  store = await testStore();
  const keyring = parseKeyring(generateKeyringEntry("t1"));
  reasons = [];
  tokens = createTokenService({
    db: store.db,
    audit: testAudit(store.db, clock),
    keyring,
    clock,
    pubsub: createPubSub({}),
    publicUrl: PUBLIC_URL,
    accessTokenTtl: 900,
    reloadIntervalMs: 0,
    onFailure: (r) => reasons.push(r),
  });
  await tokens.init();
  kid = tokens.jwks().keys[0]!.kid;
  const row = rowsOf<{ private_key: string }>(
    await store.db.execute(sql`select private_key from signing_keys where kid = ${kid}`),
  )[0]!;
  ourKey = createPrivateKey(
    keyring.decryptString(row.private_key, { table: "signing_keys", column: "private_key", row: kid }),
  );
});
after(async () => {
  tokens.close();
  await store.close();
});

const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
function claims(): Record<string, unknown> {
  const iat = Math.floor(clock.now() / 1000);
  return { sid: "s1", iss: PUBLIC_URL, aud: `${PUBLIC_URL}/api`, sub: "victim", iat, exp: iat + 900, jti: "j1" };
}

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = {
  ES256: generateKeyPairSync("ec", { namedCurve: "P-256" }),
  ES384: generateKeyPairSync("ec", { namedCurve: "P-384" }),
  ES512: generateKeyPairSync("ec", { namedCurve: "P-521" }),
};

/** Each forbidden algorithm with a correctly made signature under it, so that only the algorithm is wrong. */
const FORBIDDEN: Record<string, (input: string) => string> = {
  none: () => "",
  // Algorithm confusion: HMAC keyed with what the attacker knows of our key (the public key, as PEM and as raw bytes).
  HS256: (input) =>
    createHmac("sha256", createPublicKey(ourKey).export({ format: "pem", type: "spki" }))
      .update(input)
      .digest("base64url"),
  HS384: (input) =>
    createHmac("sha384", Buffer.from(tokens.jwks().keys[0]!.x, "base64url")).update(input).digest("base64url"),
  HS512: (input) => createHmac("sha512", tokens.jwks().keys[0]!.x).update(input).digest("base64url"),
  RS256: (input) => sign("sha256", Buffer.from(input), rsa.privateKey).toString("base64url"),
  RS512: (input) => sign("sha512", Buffer.from(input), rsa.privateKey).toString("base64url"),
  PS256: (input) =>
    sign("sha256", Buffer.from(input), { key: rsa.privateKey, padding: 6, saltLength: 32 }).toString("base64url"),
  ES256: (input) =>
    sign("sha256", Buffer.from(input), { key: ec.ES256.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url"),
  ES384: (input) =>
    sign("sha384", Buffer.from(input), { key: ec.ES384.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url"),
  ES512: (input) =>
    sign("sha512", Buffer.from(input), { key: ec.ES512.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url"),
  // The same Ed25519 signature by our own key under the fully-specified name: still not the one algorithm we issue.
  Ed25519: (input) => sign(null, Buffer.from(input), ourKey).toString("base64url"),
};

async function refusedAsAlgorithm(token: string, what: string): Promise<void> {
  const before = reasons.length;
  await assert.rejects(
    tokens.verify(token),
    (error: unknown) => error instanceof AppError && error.status === 401,
    what,
  );
  assert.deepEqual(reasons.slice(before), ["algorithm"], `${what}: refused by the algorithm allow-list`);
}

test("control: our own key under EdDSA, built the same way, is accepted", async () => {
  const input = `${b64({ alg: "EdDSA", typ: "at+jwt", kid })}.${b64(claims())}`;
  assert.equal(
    (await tokens.verify(`${input}.${sign(null, Buffer.from(input), ourKey).toString("base64url")}`)).sub,
    "victim",
  );
});

for (const [alg, signer] of Object.entries(FORBIDDEN)) {
  test(`alg ${alg} is refused by the allow-list, with our kid and with a kid we never issued`, async () => {
    for (const headerKid of [kid, "kid-nobody-issued"]) {
      const input = `${b64({ alg, typ: "at+jwt", kid: headerKid })}.${b64(claims())}`;
      await refusedAsAlgorithm(`${input}.${signer(input)}`, `${alg} kid=${headerKid}`);
    }
  });
}
