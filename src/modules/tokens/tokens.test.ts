import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, type JsonWebKey } from "node:crypto";
import { after, before, test } from "node:test";
import { sql } from "drizzle-orm";
import { createVerifier } from "fast-jwt";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { needs, startApp, storeUrl, testAudit, testStore, type TestApp } from "../../../test/harness.js";
import { createFakeClock } from "../../core/clock.js";
import { generateKeyringEntry, parseKeyring, type Keyring } from "../../core/crypto/index.js";
import { AppError } from "../../core/errors.js";
import { openStore, rowsOf, type Store } from "../../store/db.js";
import { createPubSub } from "../../store/pubsub.js";
import { createTokenService, type TokenService } from "./index.js";

const PUBLIC_URL = "https://id.example.test";
const TTL = 900;

function service(store: Store, keyring: Keyring, clock = createFakeClock(Date.UTC(2026, 0, 1, 12))): TokenService {
  return createTokenService({
    db: store.db,
    audit: testAudit(store.db, clock),
    keyring,
    clock,
    pubsub: createPubSub({}),
    publicUrl: PUBLIC_URL,
    accessTokenTtl: TTL,
    reloadIntervalMs: 0,
  });
}

let store: Store;
let keyring: Keyring;
let clock: ReturnType<typeof createFakeClock>;
let tokens: TokenService;

before(async () => {
  store = await testStore();
  keyring = parseKeyring(generateKeyringEntry("t1"));
  clock = createFakeClock(Date.UTC(2026, 0, 1, 12));
  tokens = service(store, keyring, clock);
  await tokens.init();
});
after(async () => {
  tokens.close();
  await store.close();
});

test("issue then verify returns every claim; the token carries the header and claims of docs/identity.md", async () => {
  const issued = await tokens.issue({ sub: "user-1", sid: "session-1" });
  const now = Math.floor(clock.now() / 1000);
  assert.equal(issued.expiresIn, TTL);
  assert.equal(issued.expiresAt.getTime(), (now + TTL) * 1000);
  const kid = tokens.jwks().keys[0]!.kid;

  const header = decodeProtectedHeader(issued.token);
  assert.deepEqual(header, { alg: "EdDSA", typ: "at+jwt", kid });
  const payload = decodeJwt(issued.token);
  assert.deepEqual(payload, {
    sid: "session-1",
    iss: PUBLIC_URL,
    aud: `${PUBLIC_URL}/api`,
    sub: "user-1",
    iat: now,
    exp: now + TTL,
    jti: issued.jti,
  });
  assert.ok(issued.jti.length >= 20, "jti is random, 128 bits");

  const claims = await tokens.verify(issued.token);
  assert.deepEqual({ ...claims }, { sub: "user-1", sid: "session-1", jti: issued.jti, iat: now, exp: now + TTL, kid });
  // A second verify (from the cache) answers the same.
  assert.deepEqual({ ...(await tokens.verify(issued.token)) }, { ...claims });
  // Each token has its own jti.
  assert.notEqual((await tokens.issue({ sub: "user-1", sid: "session-1" })).jti, issued.jti);
});

test("the JWKS holds the active public key and never a private part", async () => {
  const { keys } = tokens.jwks();
  assert.equal(keys.length, 1);
  const [key] = keys;
  assert.deepEqual(Object.keys(key!).sort(), ["alg", "crv", "kid", "kty", "use", "x"]);
  assert.equal(key!.kty, "OKP");
  assert.equal(key!.crv, "Ed25519");
  assert.equal(key!.alg, "EdDSA");
  assert.equal(key!.use, "sig");
  assert.equal(JSON.stringify(tokens.jwks()).includes('"d"'), false);
  const listed = await tokens.list();
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.kid, key!.kid);
  assert.equal(listed[0]!.active, true);
  assert.equal(listed[0]!.retired_at, null);
});

test("the private key is stored as a keyring envelope bound to its row, never as PEM", async () => {
  const rows = rowsOf<{ kid: string; private_key: string; public_jwk: Record<string, unknown> }>(
    await store.db.execute(sql`select kid, private_key, public_jwk from signing_keys`),
  );
  assert.equal(rows.length, 1);
  const row = rows[0]!;
  assert.match(row.private_key, /^bw1\.t1\./);
  assert.equal(row.private_key.includes("PRIVATE KEY"), false);
  assert.equal("d" in row.public_jwk, false);
  const pem = keyring.decryptString(row.private_key, { table: "signing_keys", column: "private_key", row: row.kid });
  assert.equal(createPrivateKey(pem).asymmetricKeyType, "ed25519", "the envelope holds an Ed25519 private key");
  // It is the private half of the published key.
  const jwk = createPublicKey(createPrivateKey(pem)).export({ format: "jwk" });
  assert.equal(jwk.x, tokens.jwks().keys[0]!.x);
  // Moved to another row, the envelope does not decrypt.
  assert.throws(
    () => keyring.decrypt(row.private_key, { table: "signing_keys", column: "private_key", row: "other" }),
    { code: "ERR_DECRYPT_FAILED" },
  );
});

test("init on a second service over the same database finds the key instead of making another", async () => {
  const second = service(store, keyring, clock);
  const third = service(store, keyring, clock);
  await Promise.all([second.init(), third.init()]);
  try {
    const count = rowsOf<{ n: number }>(await store.db.execute(sql`select count(*)::int as n from signing_keys`))[0]!.n;
    assert.equal(count, 1);
    assert.deepEqual(second.jwks(), tokens.jwks());
    // A token of one instance verifies on another.
    const issued = await second.issue({ sub: "user-2", sid: "s2" });
    assert.equal((await tokens.verify(issued.token)).sub, "user-2");
  } finally {
    second.close();
    third.close();
  }
});

test("init with a keyring that cannot decrypt the active key fails closed at start", async () => {
  const other = service(store, parseKeyring(generateKeyringEntry("t2")), clock);
  await assert.rejects(other.init(), { code: "ERR_UNKNOWN_KEY_ID" });
  other.close();
});

test(
  "several instances starting at once on one PostgreSQL create exactly one key",
  { skip: needs("postgres") },
  async () => {
    const pgStore = await testStore({ kind: "postgres" });
    const url = storeUrl(pgStore)!;
    const others = await Promise.all([1, 2, 3].map(() => openStore({ databaseUrl: url })));
    const services = [pgStore, ...others].map((s) => service(s, keyring, clock));
    try {
      await Promise.all(services.map((s) => s.init()));
      const count = rowsOf<{ n: number }>(
        await pgStore.db.execute(sql`select count(*)::int as n from signing_keys`),
      )[0]!.n;
      assert.equal(count, 1);
      const kids = new Set(services.map((s) => s.jwks().keys[0]!.kid));
      assert.equal(kids.size, 1);
    } finally {
      for (const s of services) s.close();
      await Promise.all(others.map((s) => s.close()));
      await pgStore.close();
    }
  },
);

test("interop: a second JWT library verifies a Bulwark token with only the served JWKS, issuer and audience", async () => {
  let app: TestApp | undefined;
  try {
    // The app as it runs: its own token service behind its own JWKS route.
    app = await startApp({ clock, env: { PUBLIC_URL } });
    const served = app.app.bulwark.tokens;
    const res = await app.app.inject({ method: "GET", url: "/.well-known/jwks.json" });
    assert.equal(res.statusCode, 200);
    // Cacheable public data that other origins may fetch, overriding the global no-store / same-origin.
    assert.equal(res.headers["cache-control"], "public, max-age=300");
    assert.equal(res.headers["cross-origin-resource-policy"], "cross-origin");
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.ok(res.headers["ratelimit-policy"], "rate-limited by the default class");
    assert.equal(res.body.includes('"d"'), false);
    const jwks = JSON.parse(res.body) as { keys: (JsonWebKey & { kid: string })[] };

    const issued = await served.issue({ sub: "user-9", sid: "s9" });
    const kid = decodeProtectedHeader(issued.token).kid;
    const jwk = jwks.keys.find((k) => k.kid === kid);
    assert.ok(jwk, "the token's kid is in the JWKS");
    // node:crypto turns the JWK into the PEM fast-jwt takes; jose is not involved on this side.
    const pem = createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "pem" }) as string;
    const verifier = createVerifier({
      key: pem,
      algorithms: ["EdDSA"],
      allowedIss: app.config.publicUrl,
      allowedAud: `${app.config.publicUrl}/api`,
      requiredClaims: ["sub", "sid", "exp", "iat", "jti"],
      clockTimestamp: clock.now(),
      complete: true,
    });
    const decoded = verifier(issued.token) as { header: Record<string, unknown>; payload: Record<string, unknown> };
    assert.equal(decoded.header.typ, "at+jwt");
    assert.equal(decoded.payload.sub, "user-9");
    assert.equal(decoded.payload.sid, "s9");
    // The same library refuses it for another audience, or once expired.
    assert.throws(() =>
      createVerifier({
        key: pem,
        algorithms: ["EdDSA"],
        allowedAud: "https://other.example/api",
        clockTimestamp: clock.now(),
      })(issued.token),
    );
    assert.throws(() =>
      createVerifier({ key: pem, algorithms: ["EdDSA"], clockTimestamp: clock.now() + (TTL + 1) * 1000 })(issued.token),
    );
  } finally {
    await app?.close();
  }
});

test("verify refuses with one AppError whatever the reason", async () => {
  await assert.rejects(
    tokens.verify("nope"),
    (error: unknown) =>
      error instanceof AppError && error.code === "unauthorized" && error.message === "invalid or expired access token",
  );
});
