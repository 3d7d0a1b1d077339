import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomToken } from "../core/crypto/index.js";
import { ConfigError, loadConfig, secretValues, type Env } from "./load.js";
import { secretWeakness } from "./production.js";
import { createApp } from "../app.js";
import { productionEnv } from "../../test/harness.js";

const goodProduction = productionEnv;

function refusal(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, "a ConfigError");
    return error;
  }
  assert.fail("the configuration was accepted");
}

function assertRefused(env: Env, setting: string, pattern: RegExp): void {
  const error = refusal(env);
  const problem = error.problems.find((p) => p.setting === setting);
  assert.ok(problem, `a problem names ${setting}: ${JSON.stringify(error.problems)}`);
  assert.match(problem.message, pattern);
}

test("a good production configuration loads and the app starts and serves", async () => {
  const config = loadConfig(goodProduction());
  assert.equal(config.production, true);
  assert.deepEqual(config.devSecrets, []);
  const app = await createApp(config);
  try {
    const res = await app.inject({ method: "GET", url: "/health" });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["strict-transport-security"], "max-age=63072000; includeSubDomains");
  } finally {
    await app.close();
  }
  await assert.rejects(app.bulwark.store.ping(), /closed/, "close() closes the database the app opened");
});

for (const name of ["SECRET_KEY", "METRICS_TOKEN", "ENCRYPTION_KEYS"]) {
  test(`production refuses a missing ${name} and says how to generate one`, () => {
    assertRefused({ ...goodProduction(), [name]: "" }, name, /missing.*bulwark secrets generate/);
  });
}

test("production refuses a short secret", () => {
  assertRefused({ ...goodProduction(), SECRET_KEY: randomToken(16) }, "SECRET_KEY", /shorter than 32 bytes/);
});

test("production refuses a low-entropy secret", () => {
  assertRefused({ ...goodProduction(), SECRET_KEY: "ab".repeat(40) }, "SECRET_KEY", /low in entropy/);
  assertRefused(
    { ...goodProduction(), METRICS_TOKEN: "0f1e2d3c4b5a6978".repeat(4) },
    "METRICS_TOKEN",
    /low in entropy/,
  );
});

test("production refuses a known example value whatever its length", () => {
  assertRefused({ ...goodProduction(), SECRET_KEY: `changeme-${randomToken(32)}` }, "SECRET_KEY", /example/);
  assertRefused({ ...goodProduction(), METRICS_TOKEN: `your-api-key-${randomToken(32)}` }, "METRICS_TOKEN", /example/);
});

test("production refuses an encryption key that is not 32 bytes", () => {
  assertRefused(
    { ...goodProduction(), ENCRYPTION_KEYS: `k1:${Buffer.alloc(16, 7).toString("base64")}` },
    "ENCRYPTION_KEYS",
    /.+/,
  );
});

test("production refuses a wildcard CORS origin", () => {
  assertRefused({ ...goodProduction(), CORS_ORIGINS: "*" }, "CORS_ORIGINS", /exact origins/);
});

test("production refuses an http CORS origin", () => {
  assertRefused(
    { ...goodProduction(), CORS_ORIGINS: "https://app.example.com,http://app.example.com" },
    "CORS_ORIGINS",
    /not https/,
  );
});

test("production refuses an http PUBLIC_URL", () => {
  assertRefused({ ...goodProduction(), PUBLIC_URL: "http://api.example.com" }, "PUBLIC_URL", /https/);
});

test("production refuses a remote DATABASE_URL without sslmode=require or stronger", () => {
  assertRefused(
    { ...goodProduction(), DATABASE_URL: "postgres://app@db.example.com:5432/app" },
    "DATABASE_URL",
    /sslmode/,
  );
  assertRefused(
    { ...goodProduction(), DATABASE_URL: "postgres://app@db.example.com:5432/app?sslmode=prefer" },
    "DATABASE_URL",
    /sslmode/,
  );
  for (const ok of [
    "postgres://app@db.example.com/app?sslmode=require",
    "postgres://app@db.example.com/app?sslmode=verify-full",
    "postgres://app@127.0.0.1/app",
    "postgres://app@localhost/app",
  ]) {
    assert.doesNotThrow(() => loadConfig({ ...goodProduction(), DATABASE_URL: ok }), ok);
  }
});

test("production refuses a PUBLIC_* value that looks like a secret", () => {
  const stripeLike = ["sk", "live", randomToken(18).replace(/[-_]/g, "a")].join("_");
  assertRefused({ ...goodProduction(), PUBLIC_STRIPE_KEY: stripeLike }, "PUBLIC_STRIPE_KEY", /Stripe secret key/);
  assertRefused(
    { ...goodProduction(), PUBLIC_API: "https://user:pw@api.example.com" },
    "PUBLIC_API",
    /URL with a password/,
  );
  assert.doesNotThrow(() => loadConfig({ ...goodProduction(), PUBLIC_STRIPE_KEY: "pk_live_abcdefgh12345678" }));
});

test("every problem is listed at once", () => {
  const error = refusal({ ...goodProduction(), SECRET_KEY: "", CORS_ORIGINS: "*", PUBLIC_URL: "http://x.example" });
  assert.deepEqual(error.problems.map((p) => p.setting).sort(), ["CORS_ORIGINS", "PUBLIC_URL", "SECRET_KEY"]);
  assert.match(error.message, /SECRET_KEY: .*\n.*CORS_ORIGINS|CORS_ORIGINS/);
});

test("refusal messages never contain a secret's value", () => {
  const weak = `changeme${randomToken(32)}`;
  const error = refusal({ ...goodProduction(), SECRET_KEY: weak, METRICS_TOKEN: weak });
  assert.doesNotMatch(error.message, new RegExp(weak));
});

test("development only warns, and generates strong secrets once into DATA_DIR/secrets.json (0600)", async () => {
  const { statSync, readFileSync } = await import("node:fs");
  const dir = mkdtempSync(join(tmpdir(), "bulwark-dev-"));
  const first = loadConfig({ DATA_DIR: dir, CORS_ORIGINS: "*" });
  assert.deepEqual([...first.devSecrets].sort(), ["ENCRYPTION_KEYS", "METRICS_TOKEN", "SECRET_KEY"]);
  assert.ok(first.warnings.some((w) => w.setting === "CORS_ORIGINS"));
  const file = join(dir, "secrets.json");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const second = loadConfig({ DATA_DIR: dir });
  assert.equal(second.secretKey, first.secretKey);
  assert.equal(second.encryptionKeys, first.encryptionKeys);
  assert.equal(JSON.parse(readFileSync(file, "utf8")).SECRET_KEY, first.secretKey);
  assert.equal(
    loadConfig({ DATA_DIR: dir }).warnings.some((w) => w.setting === "SECRET_KEY"),
    false,
    "generated secrets are strong",
  );
});

test("malformed values are refused in development too", () => {
  for (const [name, value] of [
    ["PORT", "eighty"],
    ["RATE_LIMIT_PER_MINUTE", "-1"],
    ["RATE_LIMIT_ENABLED", "maybe"],
    ["LOG_LEVEL", "loud"],
    ["TRUST_PROXY", "true"],
    ["TRUST_PROXY", "10.0.0.1,proxy.internal"],
    ["TRUST_PROXY", "10.0.0.0/33"],
  ]) {
    const error = refusal({ DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-dev-")), [name!]: value });
    assert.ok(
      error.problems.some((p) => p.setting === name),
      name,
    );
  }
});

test("production refuses a missing SMTP_URL, outside-token settings without issuer and audience, and private webhook targets", () => {
  const { SMTP_URL: _smtp, ...noMail } = goodProduction();
  assertRefused(noMail, "SMTP_URL", /outbox/);
  assertRefused(
    { ...goodProduction(), EXTERNAL_JWKS_URL: "https://idp.example.com/.well-known/jwks.json" },
    "EXTERNAL_JWT_ISSUER",
    /required/,
  );
  assertRefused(
    {
      ...goodProduction(),
      EXTERNAL_JWKS_URL: "http://idp.example.com/jwks.json",
      EXTERNAL_JWT_ISSUER: "https://idp.example.com/",
      EXTERNAL_JWT_AUDIENCE: "api",
    },
    "EXTERNAL_JWKS_URL",
    /https/,
  );
  assertRefused(
    {
      ...goodProduction(),
      EXTERNAL_JWT_SECRET: "short",
      EXTERNAL_JWT_ISSUER: "https://idp.example.com/",
      EXTERNAL_JWT_AUDIENCE: "api",
    },
    "EXTERNAL_JWT_SECRET",
    /32 bytes/,
  );
  assertRefused(
    { ...goodProduction(), WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" },
    "WEBHOOK_ALLOW_PRIVATE_TARGETS",
    /SSRF/,
  );
  assertRefused({ ...goodProduction(), WEBHOOK_SECRET_GITHUB: "not-a-secret" }, "WEBHOOK_SECRET_GITHUB", /whsec_/);
  assertRefused(
    { ...goodProduction(), WEBHOOK_SECRET_STRIPE: `whsec_${randomToken(32)}` },
    "WEBHOOK_SECRET_STRIPE",
    /STRIPE_WEBHOOK_SECRET/,
  );
});

test("webhook sources are named from their setting and keep every secret of a rotation", () => {
  const a = `whsec_${Buffer.from(randomToken(24)).toString("base64")}`;
  const b = `whsec_${Buffer.from(randomToken(24)).toString("base64")}`;
  const config = loadConfig({
    ...goodProduction(),
    WEBHOOK_SECRET_GITHUB_APP: `${a}, ${b}`,
    ADMIN_EMAILS: "Ops@Example.com, sec@example.com",
    SUPER_ADMIN_EMAIL: "root@example.com",
  });
  assert.deepEqual(config.webhooks.sources, { "github-app": [a, b] });
  assert.deepEqual(config.adminEmails, ["ops@example.com", "sec@example.com", "root@example.com"]);
});

test("every secret of the new settings reaches the log scrubber: outside-provider, webhook and SMTP secrets", () => {
  const external = randomToken(32);
  const stripe = `whsec_${randomToken(24)}`;
  const standard = `whsec_${Buffer.from(randomToken(24)).toString("base64")}`;
  const smtpPassword = randomToken(16);
  const config = loadConfig({
    ...goodProduction(),
    EXTERNAL_JWT_SECRET: external,
    EXTERNAL_JWT_ISSUER: "https://idp.example.com/",
    EXTERNAL_JWT_AUDIENCE: "api",
    STRIPE_WEBHOOK_SECRET: stripe,
    WEBHOOK_SECRET_GITHUB: standard,
    SMTP_URL: `smtps://bulwark:${smtpPassword}@smtp.example.com:465`,
  });
  const values = secretValues(config);
  for (const secret of [external, stripe, standard, smtpPassword]) assert.ok(values.includes(secret));
  assert.equal(config.mail.from, "Bulwark <no-reply@api.example.com>", "the sender defaults to PUBLIC_URL's host");
  assert.equal(
    loadConfig({
      LOG_LEVEL: "silent",
      ...productionEnv(),
      NODE_ENV: "development",
      PUBLIC_URL: "http://127.0.0.1:8080",
    }).mail.from,
    "Bulwark <no-reply@localhost>",
  );
});

// A random secret that happens to begin with a placeholder word ("Dev…", "test…": about 1 in
// 30,000 generated values) was refused as a placeholder, so `bulwark secrets generate` could hand
// out a value production then refused; a word with a weak remainder is still a placeholder.
test("a random secret beginning like a placeholder word is accepted; the word with a weak rest is not", () => {
  // A value as `bulwark secrets generate` prints, with the mix of characters nearly every one has
  // (one in about 1,500 lacks a digit: such a value beginning with a word is still refused).
  let strong = randomToken(32);
  while (!/[A-Z]/.test(strong.slice(8)) || !/[a-z]/.test(strong.slice(8)) || !/[0-9]/.test(strong.slice(8)))
    strong = randomToken(32);
  for (const prefix of ["dev", "Dev", "DEV", "test", "demo", "secret", "default"]) {
    assert.equal(secretWeakness(prefix + strong.slice(prefix.length)), undefined, `${prefix}… random`);
    assert.equal(secretWeakness(`${prefix}-${strong}`), undefined, `${prefix}-<a full secret>`);
  }
  for (const weak of [
    "dev-secret-do-not-use-in-production-please-ok",
    "test1234567890123456789012345678901234567890",
    `secret_${"0123456789abcdef".repeat(2)}`,
    `password-${randomToken(16)}`,
    "development-key-for-local-use-only-00000000000",
  ]) {
    assert.match(secretWeakness(weak) ?? "", /example or placeholder|low in entropy|shorter/, weak);
  }
});
