// Attack: deploying with a secret copied from Bulwark's own docs, README or tests, which anyone can read.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { productionEnv } from "../../test/harness.js";
import { createApp } from "../app.js";
import { ConfigError, loadConfig, type Env } from "./load.js";
import { SECRET_SETTINGS } from "./settings.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** README.md, every page under docs/, and every test file and test helper: what the project publishes. */
function publishedFiles(): string[] {
  const under = (dir: string, keep: (name: string) => boolean) =>
    readdirSync(resolve(ROOT, dir), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && keep(entry.name))
      .map((entry) => join(entry.parentPath, entry.name));
  return [
    resolve(ROOT, "README.md"),
    ...under("docs", (name) => name.endsWith(".md")),
    ...under("src", (name) => name.endsWith(".test.ts")),
    ...under("test", (name) => name.endsWith(".ts")),
  ];
}

const NAMES = SECRET_SETTINGS.map((s) => (s.name.endsWith("*") ? `${s.name.slice(0, -1)}[A-Z0-9_]+` : s.name)).join(
  "|",
);
/** `NAME=value` (shell, .env, prose) and `NAME: "value"` / `"NAME": "value"` (TypeScript, JSON). */
const FORMS = [
  new RegExp(`\\b(${NAMES})=([^\\s\`'"]+)`, "g"),
  new RegExp(`\\b(${NAMES})["']?\\s*:\\s*(?:"([^"]*)"|'([^']*)'|\`([^\`$]*)\`)`, "g"),
];

/** Every value written for a secret setting in the published files, with where it was found. */
function publishedValues(): { name: string; value: string; where: string }[] {
  const found: { name: string; value: string; where: string }[] = [];
  for (const file of publishedFiles()) {
    const text = readFileSync(file, "utf8");
    for (const form of FORMS) {
      for (const m of text.matchAll(form)) {
        const value = m[2] ?? m[3] ?? m[4] ?? "";
        // An empty value is "unset" (its own test covers it); a shell variable is not a value.
        if (value === "" || value.startsWith("$")) continue;
        found.push({
          name: m[1]!,
          value,
          where: `${file.slice(ROOT.length + 1)}:${text.slice(0, m.index).split("\n").length}`,
        });
      }
    }
  }
  return found;
}

/** Settings a secret is only read with (an S3 secret means nothing without a bucket). */
const COMPANIONS: Record<string, Record<string, string>> = {
  S3_SECRET_ACCESS_KEY: { S3_BUCKET: "bulwark-files", S3_ACCESS_KEY_ID: "an-access-key-id" },
};

/** Whether production refuses the value for that setting. URL settings hold a secret only in their password. */
function refused(name: string, value: string): boolean {
  try {
    loadConfig({ ...productionEnv(), ...COMPANIONS[name], [name]: value });
    return false;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `${name}: a ConfigError, not ${String(error)}`);
    return error.problems.some((p) => p.setting === name);
  }
}

test("every secret value written in the docs, the README or the tests is refused by a production start", () => {
  const values = publishedValues();
  assert.ok(
    values.some((v) => v.where.startsWith("docs/operations.md")),
    "the scan finds the secrets generate example",
  );
  const accepted = values.filter(({ name, value }) => {
    const setting = SECRET_SETTINGS.find(
      (s) => s.name === name || (s.name.endsWith("*") && name.startsWith(s.name.slice(0, -1))),
    );
    // A URL without a password (a local relay, a socket) carries no secret to publish.
    if (setting?.parse.type === "url" && !/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]+@/i.test(value)) return false;
    return !refused(name, value);
  });
  assert.deepEqual(
    accepted.map((v) => `${v.where} ${v.name}`),
    [],
    "published secret values a production start accepts",
  );
});

test("the values `bulwark secrets generate` once printed in docs/operations.md are refused, and /metrics never answers them", async () => {
  // Published in earlier versions of docs/operations.md: still in every copy of those docs.
  const env: Env = {
    ...productionEnv(),
    SECRET_KEY: "vAg867xDpqlByRaJp7SIZrFw-Rjv3sY6nFKnVJSxYsM",
    ENCRYPTION_KEYS: "k20261122-HmZ2:cHgS7Cgw5rRBm+O6Vjwfx9U+qxC/MO+jDN1cBl8nXrE=",
    METRICS_TOKEN: "-ey2Pk2ee7oBR_R0uGkKSsVA18nAzj4bt5-kfU0FdBA",
  };
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems.map((p) => p.setting).sort(), ["ENCRYPTION_KEYS", "METRICS_TOKEN", "SECRET_KEY"]);
    for (const problem of error.problems) assert.match(problem.message, /published/);
    return;
  }
  const app = await createApp(config);
  try {
    const res = await app.inject({
      method: "GET",
      url: "/metrics",
      headers: { authorization: `Bearer ${env.METRICS_TOKEN}` },
    });
    assert.fail(`a production start accepted the documented secrets, and /metrics answered ${res.statusCode}`);
  } finally {
    await app.close();
  }
});

test("a placeholder left in place of a secret is refused", () => {
  for (const name of ["SECRET_KEY", "METRICS_TOKEN"]) {
    assert.ok(refused(name, "<output of bulwark secrets generate>"), name);
    assert.ok(refused(name, "…"), name);
  }
  assert.ok(refused("ENCRYPTION_KEYS", "<output of bulwark secrets generate>"));
});
