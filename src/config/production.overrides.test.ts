// Attack: a configuration that reads as safe but is not — a later sslmode or host overriding the first, a secret republished as PUBLIC_*, a TRUST_PROXY that lets every client choose its IP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { productionEnv } from "../../test/harness.js";
import { randomToken } from "../core/crypto/index.js";
import { ConfigError, loadConfig, type Env } from "./load.js";

function problemsOf(env: Env): { setting: string; message: string }[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
}

function assertRefused(env: Env, setting: string, pattern: RegExp): void {
  const problem = problemsOf(env).find((p) => p.setting === setting);
  assert.ok(problem, `${setting} is refused for ${JSON.stringify(env[setting])}`);
  assert.match(problem.message, pattern);
}

test("production refuses a DATABASE_URL whose sslmode or host is given twice, or whose host= query overrides the URL's host", () => {
  const base = "postgres://app@db.example.com:5432/app";
  assertRefused(
    { ...productionEnv(), DATABASE_URL: `${base}?sslmode=require&sslmode=disable` },
    "DATABASE_URL",
    /sslmode.*more than once/,
  );
  assertRefused(
    { ...productionEnv(), DATABASE_URL: `${base}?sslmode=disable&sslmode=require` },
    "DATABASE_URL",
    /sslmode.*more than once/,
  );
  assertRefused(
    { ...productionEnv(), DATABASE_URL: "postgres://app@localhost/app?host=db.example.com" },
    "DATABASE_URL",
    /host/,
  );
  assertRefused(
    { ...productionEnv(), DATABASE_URL: `${base}?sslmode=require&host=evil.example.net` },
    "DATABASE_URL",
    /host/,
  );
  assertRefused(
    { ...productionEnv(), DATABASE_URL: "postgres://app@localhost/app?host=/tmp&host=db.example.com" },
    "DATABASE_URL",
    /host.*more than once/,
  );
  // A Unix socket directory is a local connection; TLS is still demanded of a remote host.
  for (const ok of [`${base}?sslmode=verify-full`, "postgres://app@localhost/app?host=/var/run/postgresql"]) {
    assert.deepEqual(problemsOf({ ...productionEnv(), DATABASE_URL: ok }), [], ok);
  }
});

test("production refuses a PUBLIC_* value equal to, or containing, a secret's value", () => {
  const env = productionEnv();
  assertRefused({ ...env, PUBLIC_METRICS: env.METRICS_TOKEN }, "PUBLIC_METRICS", /METRICS_TOKEN/);
  assertRefused({ ...env, PUBLIC_KEY: `prefix-${env.SECRET_KEY}` }, "PUBLIC_KEY", /SECRET_KEY/);
  const smtpPassword = randomToken(16);
  assertRefused(
    { ...env, SMTP_URL: `smtps://bulwark:${smtpPassword}@smtp.example.com:465`, PUBLIC_MAIL: smtpPassword },
    "PUBLIC_MAIL",
    /SMTP_URL/,
  );
  const [keyring] = env.ENCRYPTION_KEYS!.split(",");
  assertRefused({ ...env, PUBLIC_K: keyring!.slice(keyring!.indexOf(":") + 1) }, "PUBLIC_K", /ENCRYPTION_KEYS/);
  // The message names the secret's setting, never its value.
  for (const p of problemsOf({ ...env, PUBLIC_METRICS: env.METRICS_TOKEN }))
    assert.ok(!p.message.includes(env.METRICS_TOKEN!));
});

test("TRUST_PROXY covering the whole address space is refused like `true`, in every environment", () => {
  for (const value of ["0.0.0.0/0", "::/0", "10.0.0.1,0.0.0.0/0", "128.0.0.0/0", "::ffff:0:0/0"]) {
    assertRefused({ ...productionEnv(), TRUST_PROXY: value }, "TRUST_PROXY", /every|whole/);
    assertRefused(
      { DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-dev-")), TRUST_PROXY: value },
      "TRUST_PROXY",
      /every|whole/,
    );
  }
  assert.deepEqual(problemsOf({ ...productionEnv(), TRUST_PROXY: "10.0.0.0/8,fd00::/8" }), []);
});
