// Threat: forged, confused or replayed outside-provider tokens (alg none, HS256 keyed with the public
// key, wrong issuer or audience, expired or not yet valid), kid floods against the provider, and
// privilege by an unverified email.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:http";
import { sql } from "drizzle-orm";
import { createSigner } from "fast-jwt";
import { createFakeClock } from "../../core/clock.js";
import { randomToken } from "../../core/crypto/index.js";
import { rowsOf } from "../../store/db.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, register, signedIn } from "../../../test/identity.js";
import { createJwksCache } from "./jwks.js";

const ISSUER = "https://idp.test/auth/v1";
const AUDIENCE = "authenticated";
const base = {
  RATE_LIMIT_PER_MINUTE: "10000",
  AUTH_REGISTER_PER_MINUTE: "1000",
  AUTH_LOGIN_PER_MINUTE: "1000",
  EXTERNAL_JWT_ISSUER: ISSUER,
  EXTERNAL_JWT_AUDIENCE: AUDIENCE,
  ADMIN_EMAILS: "boss@example.com,chief@example.com",
};

// Generated per run: no key material is committed.
const hsSecret = randomToken(32);
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const rsa2 = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = (key: KeyObject, kid: string) => ({ ...key.export({ format: "jwk" }), kid, use: "sig", alg: "RS256" });

let hs: TestApp;
let rs: TestApp;
let jwksServer: Server;
let jwksHits = 0;
let published: Record<string, unknown>[] = [];
const clock = createFakeClock(Date.UTC(2026, 0, 1, 12));

before(async () => {
  jwksServer = createServer((req, res) => {
    jwksHits++;
    if (req.url === "/hang") return; // never answers: the fetch timeout must end it
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((done) => jwksServer.listen(0, "127.0.0.1", done));
  const port = (jwksServer.address() as { port: number }).port;
  published = [jwk(rsa.publicKey, "k1")];
  hs = await startApp({ clock, env: { ...base, EXTERNAL_JWT_SECRET: hsSecret } });
  rs = await startApp({ clock, env: { ...base, EXTERNAL_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` } });
});
after(async () => {
  await hs.close();
  await rs.close();
  jwksServer.closeAllConnections();
  await new Promise((done) => jwksServer.close(done));
});

type Claims = Record<string, unknown>;
/** Tokens made by fast-jwt: a different JWT library from the one that verifies them. */
function hs256(
  claims: Claims,
  options: { key?: string; iss?: string; aud?: string; expiresIn?: number; notBefore?: number } = {},
) {
  return createSigner({
    key: options.key ?? hsSecret,
    algorithm: "HS256",
    iss: options.iss ?? ISSUER,
    aud: options.aud ?? AUDIENCE,
    expiresIn: options.expiresIn ?? 3_600_000,
    ...(options.notBefore !== undefined ? { notBefore: options.notBefore } : {}),
    clockTimestamp: clock.now(),
  })(claims);
}
function rs256(claims: Claims, options: { kid?: string; key?: KeyObject } = {}) {
  const pem = (options.key ?? rsa.privateKey).export({ format: "pem", type: "pkcs8" });
  return createSigner({
    key: pem,
    algorithm: "RS256",
    kid: options.kid ?? "k1",
    iss: ISSUER,
    aud: AUDIENCE,
    expiresIn: 3_600_000,
    clockTimestamp: clock.now(),
  })(claims);
}
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const subject = () => `sub-${randomToken(8)}`;
const whoami = (t: TestApp, token: string) =>
  t.app.inject({ method: "GET", url: "/api/whoami", headers: bearer(token) });

test("an HS256 token of the provider provisions a user on first sight and is an external principal", async () => {
  const sub = subject();
  const token = hs256({ sub, email: `${sub}@example.com`, email_verified: true });
  const first = await whoami(hs, token);
  assert.equal(first.statusCode, 200, first.body);
  const principal = first.json().principal;
  assert.equal(principal.type, "external");
  assert.equal(principal.role, "user");
  const me = await hs.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(token) });
  assert.equal(me.statusCode, 200);
  assert.equal(me.json().user.email, `${sub}@example.com`);
  assert.equal(me.json().user.email_verified, true);
  assert.match(me.json().user.username, /^[A-Za-z0-9_-]{3,50}$/);
  assert.equal((await whoami(hs, token)).json().principal.user_id, principal.user_id, "same user next time");
  const events = await hs.app.bulwark.audit.query({ eventType: "user.provision" });
  const event = events.events.find((e) => e.target === principal.user_id);
  assert.ok(event, "user.provision audited");
  assert.ok(!JSON.stringify(event).includes(token.split(".")[2]!), "never the token");
});

test("Bulwark's own access tokens are not swallowed by the provider's resolver", async () => {
  const user = await signedIn(hs.app);
  const who = await whoami(hs, user.access);
  assert.equal(who.statusCode, 200);
  assert.equal(who.json().principal.type, "user");
});

test("wrong issuer, wrong audience, expired, future nbf, wrong secret, missing sub and alg none are refused", async () => {
  const sub = subject();
  const now = Math.floor(clock.now() / 1000);
  const refused = {
    "wrong secret": hs256({ sub }, { key: randomToken(32) }),
    "wrong audience": hs256({ sub }, { aud: "someone-else" }),
    expired: hs256({ sub, iat: now - 7200, exp: now - 120 }, { expiresIn: 0 }),
    "future nbf": hs256({ sub }, { notBefore: 3_600_000 }),
    "no sub": hs256({ email: "x@example.com" }),
    "alg none": `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub, iss: ISSUER, aud: AUDIENCE, exp: now + 3600 })}.`,
    "alg none, signature kept": `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub, iss: ISSUER, aud: AUDIENCE, exp: now + 3600 })}.${hs256({ sub }).split(".")[2]}`,
  };
  for (const [name, token] of Object.entries(refused)) {
    const res = await whoami(hs, token);
    assert.equal(res.statusCode, 401, name);
  }
  // A wrong issuer is not this provider's token at all: no principal, and protected routes refuse it.
  const foreign = hs256({ sub }, { iss: "https://evil.test" });
  assert.equal(
    (await hs.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(foreign) })).statusCode,
    401,
  );
  const users = rowsOf<{ n: string }>(
    await hs.store.db.execute(sql`select count(*) as n from external_identities where subject = ${sub}`),
  );
  assert.equal(Number(users[0]!.n), 0, "nothing provisioned");
});

test("concurrent first requests of one subject provision exactly one user", async () => {
  const sub = subject();
  const token = hs256({ sub, email: `${sub}@example.com`, email_verified: false });
  const answers = await Promise.all(Array.from({ length: 8 }, () => whoami(hs, token)));
  assert.deepEqual(
    answers.map((a) => a.statusCode),
    Array(8).fill(200),
  );
  assert.equal(new Set(answers.map((a) => a.json().principal.user_id)).size, 1);
  // The unverified email is kept on the one link, and reserves no user's address.
  const rows = rowsOf<{ n: string }>(
    await hs.store.db.execute(
      sql`select count(*) as n from external_identities where subject = ${sub} and email = ${`${sub}@example.com`}`,
    ),
  );
  assert.equal(Number(rows[0]!.n), 1);
  const holders = rowsOf<{ n: string }>(
    await hs.store.db.execute(
      sql`select count(*) as n from users where email_key = ${`${sub}@example.com`.toLowerCase()}`,
    ),
  );
  assert.equal(Number(holders[0]!.n), 0);
  const events = await hs.app.bulwark.audit.query({ eventType: "user.provision", limit: 200 });
  assert.equal(events.events.filter((e) => e.target === answers[0]!.json().principal.user_id).length, 1);
});

test("ADMIN_EMAILS gives admin only when the token says the email is verified", async () => {
  const unverified = await whoami(hs, hs256({ sub: subject(), email: "chief@example.com", email_verified: false }));
  assert.equal(unverified.json().principal.role, "user");
  const metadataOnly = await whoami(
    hs,
    hs256({ sub: subject(), email: "boss@example.com", user_metadata: { email_verified: true } }),
  );
  assert.equal(metadataOnly.statusCode, 200);
  assert.equal(metadataOnly.json().principal.role, "user", "user-editable metadata does not count");
});

test("ADMIN_EMAILS with a verified email gives admin; an email held by a local account is never linked", async () => {
  const local = await register(hs.app);
  const taken = await hs.app.inject({
    method: "GET",
    url: "/api/users/me",
    headers: bearer(hs256({ sub: subject(), email: local.email, email_verified: true })),
  });
  assert.equal(taken.statusCode, 409, "no takeover of a local account by email");
  const verified = await whoami(rs, rs256({ sub: subject(), email: "boss@example.com", email_verified: true }));
  assert.equal(verified.statusCode, 200, verified.body);
  assert.equal(verified.json().principal.role, "admin");
  const admin = await rs.app.inject({
    method: "GET",
    url: "/api/admin/users",
    headers: bearer(rs256({ sub: subject(), email: "x@example.com", email_verified: true })),
  });
  assert.equal(admin.statusCode, 403);
});

test("RS256 tokens verify with keys from a real JWKS endpoint; HS256 keyed with the RSA public key is refused", async () => {
  const good = await whoami(rs, rs256({ sub: subject() }));
  assert.equal(good.statusCode, 200, good.body);
  assert.equal(good.json().principal.type, "external");
  // Algorithm confusion: HS256 with the provider's public key (PEM, as published) as the HMAC secret.
  const publicPem = rsa.publicKey.export({ format: "pem", type: "spki" }) as string;
  const sub = subject();
  for (const secret of [publicPem, JSON.stringify(jwk(rsa.publicKey, "k1"))]) {
    const unsigned = `${b64({ alg: "HS256", typ: "JWT", kid: "k1" })}.${b64({ sub, iss: ISSUER, aud: AUDIENCE, exp: Math.floor(clock.now() / 1000) + 3600 })}`;
    const forged = `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
    assert.equal((await whoami(rs, forged)).statusCode, 401);
  }
  // A key embedded in the token header is never used.
  const embedded = createSigner({
    key: rsa2.privateKey.export({ format: "pem", type: "pkcs8" }),
    algorithm: "RS256",
    kid: "k1",
    header: { alg: "RS256", jwk: jwk(rsa2.publicKey, "k1") },
    iss: ISSUER,
    aud: AUDIENCE,
    expiresIn: 3_600_000,
    clockTimestamp: clock.now(),
  })({ sub });
  assert.equal((await whoami(rs, embedded)).statusCode, 401);
  // The HS256 secret of the other app does not exist here: an HS256 token is refused outright.
  assert.equal((await whoami(rs, hs256({ sub }))).statusCode, 401);
});

test("an unknown kid triggers at most one JWKS refetch per 30 s", async () => {
  assert.equal((await whoami(rs, rs256({ sub: subject() }))).statusCode, 200);
  clock.advance(31_000);
  const before = jwksHits;
  // The provider rotates: k2 is published, and many tokens with made-up kids arrive.
  published = [jwk(rsa.publicKey, "k1"), jwk(rsa2.publicKey, "k2")];
  for (let i = 0; i < 10; i++)
    assert.equal((await whoami(rs, rs256({ sub: subject() }, { kid: `made-up-${i}` }))).statusCode, 401);
  assert.equal(jwksHits - before, 1, "one refetch for ten unknown kids");
  // k2 was fetched by that refetch; a kid published later waits for the next window.
  assert.equal((await whoami(rs, rs256({ sub: subject() }, { kid: "k2", key: rsa2.privateKey }))).statusCode, 200);
  published = [...published, jwk(rsa.publicKey, "k3")];
  assert.equal((await whoami(rs, rs256({ sub: subject() }, { kid: "k3" }))).statusCode, 401);
  assert.equal(jwksHits - before, 1);
  clock.advance(30_000);
  assert.equal((await whoami(rs, rs256({ sub: subject() }, { kid: "k3" }))).statusCode, 200);
  assert.equal(jwksHits - before, 2);
});

test("ES256 and EdDSA keys verify only under their own algorithm; with both settings HS256 uses only the secret", async () => {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ed = generateKeyPairSync("ed25519");
  published = [
    jwk(rsa.publicKey, "k1"),
    { ...ec.publicKey.export({ format: "jwk" }), kid: "ec1", use: "sig" },
    { ...ed.publicKey.export({ format: "jwk" }), kid: "ed1", use: "sig" },
  ];
  clock.advance(31_000);
  const port = (jwksServer.address() as { port: number }).port;
  const both = await startApp({
    clock,
    env: { ...base, EXTERNAL_JWT_SECRET: hsSecret, EXTERNAL_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` },
  });
  try {
    const sign = (algorithm: "ES256" | "EdDSA", key: KeyObject, kid: string) =>
      createSigner({
        key: key.export({ format: "pem", type: "pkcs8" }),
        algorithm,
        kid,
        iss: ISSUER,
        aud: AUDIENCE,
        expiresIn: 3_600_000,
        clockTimestamp: clock.now(),
      })({ sub: subject() });
    assert.equal((await whoami(both, sign("ES256", ec.privateKey, "ec1"))).statusCode, 200, "ES256 with the P-256 key");
    assert.equal(
      (await whoami(both, sign("EdDSA", ed.privateKey, "ed1"))).statusCode,
      200,
      "EdDSA with the Ed25519 key",
    );
    assert.equal((await whoami(both, rs256({ sub: subject() }))).statusCode, 200, "RS256 with the RSA key");
    assert.equal((await whoami(both, hs256({ sub: subject() }))).statusCode, 200, "HS256 with the secret");
    // A kid pointing at a key of another type: the key's algorithm wins, the token's is refused.
    assert.equal((await whoami(both, sign("ES256", ec.privateKey, "k1"))).statusCode, 401);
    assert.equal((await whoami(both, rs256({ sub: subject() }, { kid: "ec1" }))).statusCode, 401);
    // HS256 keyed with the RSA public key is checked against the secret only, and fails.
    const publicPem = rsa.publicKey.export({ format: "pem", type: "spki" }) as string;
    const unsigned = `${b64({ alg: "HS256", typ: "JWT", kid: "k1" })}.${b64({ sub: subject(), iss: ISSUER, aud: AUDIENCE, exp: Math.floor(clock.now() / 1000) + 3600 })}`;
    assert.equal(
      (await whoami(both, `${unsigned}.${createHmac("sha256", publicPem).update(unsigned).digest("base64url")}`))
        .statusCode,
      401,
    );
  } finally {
    await both.close();
    published = [jwk(rsa.publicKey, "k1"), jwk(rsa2.publicKey, "k2"), jwk(rsa.publicKey, "k3")];
  }
});

test("a JWKS endpoint that never answers is abandoned after the fetch timeout", async () => {
  const port = (jwksServer.address() as { port: number }).port;
  const errors: string[] = [];
  const cache = createJwksCache({
    url: `http://127.0.0.1:${port}/hang`,
    clock,
    timeoutMs: 200,
    onError: (e) => errors.push(e.name),
  });
  await assert.rejects(cache.key({ alg: "RS256", kid: "k1" }), /unknown kid/);
  assert.equal(errors.length, 1);
});

test("a disabled provisioned user's tokens stop working", async () => {
  const sub = subject();
  const token = hs256({ sub, email: `${sub}@example.com` });
  const who = await whoami(hs, token);
  assert.equal(who.statusCode, 200);
  await hs.app.bulwark.accounts.setDisabled(who.json().principal.user_id, true, { userId: null });
  assert.equal((await whoami(hs, token)).statusCode, 401);
});
