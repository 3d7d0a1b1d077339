// Attack: forged or altered access tokens — algorithm confusion, `none`, wrong type, wrong issuer or audience, expired, unknown key, tampered payload.
import assert from "node:assert/strict";
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { after, before, test } from "node:test";
import { sql } from "drizzle-orm";
import { testAudit, testStore } from "../../../test/harness.js";
import { createFakeClock } from "../../core/clock.js";
import { generateKeyringEntry, parseKeyring, type Keyring } from "../../core/crypto/index.js";
import { AppError } from "../../core/errors.js";
import { rowsOf, type Store } from "../../store/db.js";
import { createPubSub } from "../../store/pubsub.js";
import { createTokenService, type TokenService, type VerifyFailure } from "./index.js";

const PUBLIC_URL = "https://id.example.test";
const TTL = 900;

let store: Store;
let keyring: Keyring;
let clock: ReturnType<typeof createFakeClock>;
let tokens: TokenService;
let reasons: VerifyFailure[];
let kid: string;
let x: string;
/** Our real signing key, read back from the database: lets the tests sign tokens that differ in one thing only. */
let ourKey: KeyObject;

function makeService(): TokenService {
  return createTokenService({
    db: store.db,
    audit: testAudit(store.db, clock),
    keyring,
    clock,
    pubsub: createPubSub({}),
    publicUrl: PUBLIC_URL,
    accessTokenTtl: TTL,
    reloadIntervalMs: 0,
    onFailure: (reason) => reasons.push(reason),
  });
}

before(async () => {
  store = await testStore();
  keyring = parseKeyring(generateKeyringEntry("t1"));
  clock = createFakeClock(Date.UTC(2026, 0, 1, 12));
  reasons = [];
  tokens = makeService();
  await tokens.init();
  ({ kid, x } = tokens.jwks().keys[0]!);
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

function header(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { alg: "EdDSA", typ: "at+jwt", kid, ...overrides };
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(clock.now() / 1000);
  return {
    sid: "s1",
    iss: PUBLIC_URL,
    aud: `${PUBLIC_URL}/api`,
    sub: "victim",
    iat,
    exp: iat + TTL,
    jti: "j1",
    ...overrides,
  };
}

/** A compact JWS signed with an Ed25519 key (ours unless another is given). */
function signed(h: Record<string, unknown>, p: Record<string, unknown>, key: KeyObject = ourKey): string {
  const input = `${b64(h)}.${b64(p)}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString("base64url")}`;
}

/** Asserts the token is refused with the one unauthorized error, and for the expected reason (or one of them). */
async function refused(
  token: string,
  reason: VerifyFailure | VerifyFailure[],
  service: TokenService = tokens,
): Promise<void> {
  const before = reasons.length;
  await assert.rejects(service.verify(token), (error: unknown) => {
    assert.ok(error instanceof AppError);
    assert.equal(error.code, "unauthorized");
    assert.equal(error.status, 401);
    assert.equal(error.message, "invalid or expired access token");
    return true;
  });
  const seen = reasons.slice(before);
  assert.equal(seen.length, 1);
  assert.ok(
    (Array.isArray(reason) ? reason : [reason]).includes(seen[0]!),
    `reason ${seen[0]}, expected ${String(reason)}`,
  );
}

test("control: a token built the same way with our key and honest claims is accepted", async () => {
  const claimsOk = await tokens.verify(signed(header(), claims()));
  assert.equal(claimsOk.sub, "victim");
});

test("alg none (unsigned) is refused, whatever the signature part", async () => {
  const input = `${b64(header({ alg: "none" }))}.${b64(claims())}`;
  await refused(`${input}.`, "algorithm");
  await refused(`${input}.${b64("x")}`, "algorithm");
  await refused(`${b64(header({ alg: "None" }))}.${b64(claims())}.`, "algorithm");
});

test("HS256 keyed with our public key (algorithm confusion) is refused", async () => {
  const jwkJson = JSON.stringify(tokens.jwks().keys[0]);
  const publicPem = createPublicKey(ourKey).export({ format: "pem", type: "spki" }) as string;
  for (const secret of [publicPem, Buffer.from(x, "base64url"), x, jwkJson]) {
    for (const alg of ["HS256", "HS512"]) {
      const input = `${b64(header({ alg }))}.${b64(claims())}`;
      await refused(
        `${input}.${createHmac(alg === "HS256" ? "sha256" : "sha512", secret)
          .update(input)
          .digest("base64url")}`,
        "algorithm",
      );
    }
  }
  // Other asymmetric algorithms are not accepted either, even if well formed.
  await refused(`${b64(header({ alg: "ES256" }))}.${b64(claims())}.${b64("sig")}`, "algorithm");
  await refused(`${b64(header({ alg: "Ed25519" }))}.${b64(claims())}.${b64("sig")}`, "algorithm");
});

test("a token signed by another Ed25519 key claiming our kid is refused, also with that key embedded or linked", async () => {
  const attacker = generateKeyPairSync("ed25519");
  await refused(signed(header(), claims(), attacker.privateKey), "signature");
  const embedded = attacker.publicKey.export({ format: "jwk" });
  await refused(signed(header({ jwk: embedded }), claims(), attacker.privateKey), "signature");
  await refused(
    signed(header({ jku: "https://attacker.example/jwks.json" }), claims(), attacker.privateKey),
    "signature",
  );
  await refused(
    signed(header({ x5u: "https://attacker.example/cert.pem" }), claims(), attacker.privateKey),
    "signature",
  );
});

test("a wrong or missing typ is refused even when signed by our key", async () => {
  await refused(signed(header({ typ: "JWT" }), claims()), "type");
  await refused(signed(header({ typ: "id_token+jwt" }), claims()), "type");
  const { typ: _dropped, ...noTyp } = header();
  await refused(signed(noTyp, claims()), "type");
});

test("a wrong or missing issuer or audience is refused even when signed by our key", async () => {
  await refused(signed(header(), claims({ iss: "https://evil.example.test" })), "issuer");
  await refused(signed(header(), claims({ iss: `${PUBLIC_URL}/` })), "issuer");
  await refused(signed(header(), claims({ aud: "https://other-service.example.test" })), "audience");
  await refused(signed(header(), claims({ aud: PUBLIC_URL })), "audience");
  const { iss: _i, ...noIss } = claims();
  await refused(signed(header(), noIss), "issuer");
  const { aud: _a, ...noAud } = claims();
  await refused(signed(header(), noAud), "audience");
});

test("missing or malformed claims are refused (sub, sid, jti, exp, iat)", async () => {
  for (const name of ["sub", "sid", "jti", "exp", "iat"]) {
    const { [name]: _dropped, ...rest } = claims();
    await refused(signed(header(), rest), "claims");
  }
  await refused(signed(header(), claims({ sub: "" })), "claims");
  await refused(signed(header(), claims({ sid: 42 })), "claims");
  await refused(signed(header(), claims({ exp: "9999999999" })), "claims");
});

test("iat more than 60 s in the future is refused; within the skew it is accepted", async () => {
  const now = Math.floor(clock.now() / 1000);
  await refused(signed(header(), claims({ iat: now + 61, exp: now + 61 + TTL })), "issued_in_future");
  assert.equal((await tokens.verify(signed(header(), claims({ iat: now + 60, exp: now + 60 + TTL })))).sub, "victim");
});

test("an expired token is refused, on a fresh service and on one that had it cached", async () => {
  const issued = await tokens.issue({ sub: "u-exp", sid: "s-exp" });
  assert.equal((await tokens.verify(issued.token)).sub, "u-exp"); // now cached
  const start = clock.now();
  try {
    // One second before exp it still works from the cache; at exp it does not.
    clock.set(issued.expiresAt.getTime() - 1000);
    assert.equal((await tokens.verify(issued.token)).sub, "u-exp");
    clock.set(issued.expiresAt.getTime());
    await refused(issued.token, "expired");
    await refused(issued.token, "expired");
    const fresh = makeService();
    await fresh.init();
    try {
      await refused(issued.token, "expired", fresh);
    } finally {
      fresh.close();
    }
  } finally {
    clock.set(start);
  }
});

test("an unknown or missing kid is refused", async () => {
  await refused(signed(header({ kid: "no-such-key" }), claims()), "unknown_key");
  await refused(signed(header({ kid: "" }), claims()), "unknown_key");
  await refused(signed(header({ kid: 7 }), claims()), "unknown_key");
  const { kid: _dropped, ...noKid } = header();
  await refused(signed(noKid, claims()), "unknown_key");
});

test("a tampered payload (sub changed, signature kept) is refused, also when the original was cached", async () => {
  const issued = await tokens.issue({ sub: "alice", sid: "s-a" });
  await tokens.verify(issued.token);
  const [h, p, s] = issued.token.split(".") as [string, string, string];
  const payload = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
  await refused(`${h}.${b64({ ...payload, sub: "admin" })}.${s}`, "signature");
  await refused(`${h}.${b64({ ...payload, exp: (payload.exp as number) + 86_400 })}.${s}`, "signature");
  // The header is signed too: swapping typ or kid breaks the signature.
  await refused(
    `${b64({ ...(JSON.parse(Buffer.from(h, "base64url").toString()) as object), typ: "at+JWT" })}.${p}.${s}`,
    "signature",
  );
  // A flipped bit in the signature.
  const sig = Buffer.from(s, "base64url");
  sig[0] = sig[0]! ^ 1;
  await refused(`${h}.${p}.${sig.toString("base64url")}`, "signature");
});

test("truncated tokens, garbage and oversized input are refused", async () => {
  const { token } = await tokens.issue({ sub: "bob", sid: "s-b" });
  const [h, p, s] = token.split(".") as [string, string, string];
  // Depending on where the cut falls, the signature is not valid base64url or does not verify.
  await refused(token.slice(0, -1), ["signature", "malformed"]);
  await refused(token.slice(0, -10), ["signature", "malformed"]);
  await refused(`${h}.${p}`, "malformed");
  await refused(`${h}.${p}.`, "signature");
  await refused(`${h}.${p}.${s}.${s}`, "malformed");
  await refused(token.slice(0, token.length / 2), "malformed");
  for (const garbage of [
    "",
    "garbage",
    "a.b.c",
    "...",
    "Bearer x",
    `${b64("{")}.${p}.${s}`,
    `${b64("[]")}.${p}.${s}`,
    "\u0000.\u0000.\u0000",
  ]) {
    await refused(garbage, "malformed");
  }
  // A payload that is not JSON is never parsed: the signature over it fails first.
  await refused(`${h}.${b64("not json")}.${s}`, "signature");
  await refused(`${h}.${"A".repeat(5000)}.${s}`, "malformed");
  await refused(undefined as unknown as string, "malformed");
});
