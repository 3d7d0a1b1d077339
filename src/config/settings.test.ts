// The settings table is the one source: every secret row reaches the log scrubber (and nothing
// public does), and the defaults the docs show are the ones an empty environment gets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomToken } from "../core/crypto/index.js";
import { generateSecrets } from "./dev-secrets.js";
import { loadConfig, secretValues, type Env } from "./load.js";
import { documentedDefault, SECRET_SETTINGS, SETTINGS, type Setting } from "./settings.js";

/** The variable a row stands for: a pattern row (`WEBHOOK_SECRET_*`) gets one example name. */
const variable = (setting: Setting): string =>
  setting.name.endsWith("*") ? `${setting.name.slice(0, -1)}SCRUBBER_TEST` : setting.name;

/** A distinct value that a public setting's parse kind accepts, or undefined to leave it unset. */
function publicValue(setting: Setting, dir: string): string | undefined {
  const token = randomToken(16).toLowerCase();
  if (setting.name === "DATA_DIR") return dir;
  if (setting.name === "NODE_ENV") return "development";
  // The gateway's upstream is an origin: paths are forwarded as they are.
  if (setting.name === "UPSTREAM_URL") return `https://public-${token}.example`;
  switch (setting.parse.type) {
    case "string":
    case "prefix":
      return `public-${token}`;
    case "url":
      return `https://public-${token}.example/jwks.json`;
    case "list":
      return setting.name.includes("EMAIL") ? `${token}@example.com` : `https://public-${token}.example`;
    case "trust-proxy":
      return "10.0.0.0/8";
    default:
      return undefined;
  }
}

test("every secret setting's value reaches the log scrubber, with URL passwords and keyring keys, and no public setting's does", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-settings-"));
  const env: Env = {};
  const expected: string[] = [];
  for (const setting of SECRET_SETTINGS) {
    const token = randomToken(32);
    // A URL-valued secret carries the token as its password, ENCRYPTION_KEYS as its one key: both are listed too.
    const inside = setting.parse.type === "url" || setting.name === "ENCRYPTION_KEYS";
    const value =
      setting.parse.type === "url"
        ? `proto://user:${token}@localhost:1/`
        : setting.name === "ENCRYPTION_KEYS"
          ? `k1:${token}`
          : setting.parse.type === "prefix"
            ? `whsec_${Buffer.from(token).toString("base64")}`
            : token;
    env[variable(setting)] = value;
    expected.push(value, ...(inside ? [token] : []));
  }
  const publicValues: string[] = [];
  for (const setting of SETTINGS.filter((s) => s.kind === "public")) {
    const value = publicValue(setting, dir);
    if (value === undefined) continue;
    env[variable(setting)] = value;
    publicValues.push(value);
  }

  const listed = secretValues(loadConfig(env, { generateDevSecrets: false }));
  for (const setting of SECRET_SETTINGS)
    assert.ok(listed.includes(env[variable(setting)]!), `${setting.name} is scrubbed`);
  for (const value of publicValues)
    assert.ok(!listed.some((secret) => secret.includes(value)), `public value ${value} is not scrubbed`);
  assert.deepEqual(
    [...listed].sort(),
    [...expected].sort(),
    "exactly the secrets (and the passwords and keys inside them)",
  );
});

test("an environment setting every setting to its documented default loads the same Config as an empty one", () => {
  // Prose defaults ("none", "empty", "dev: …", computed ones) are not values one can set.
  const plain = SETTINGS.filter((s) => !/^(none|dev:|empty$)/.test(documentedDefault(s)) && s.docDefault === undefined);
  assert.ok(plain.length >= 20, "most settings have a plain default");
  const documented: Env = Object.fromEntries(plain.map((s) => [s.name, documentedDefault(s)]));
  const options = { generateDevSecrets: false };
  assert.deepEqual(loadConfig(documented, options), loadConfig({}, options));
});

test("the settings the table marks as generated in development are the ones dev-secrets.ts generates", () => {
  const marked = SETTINGS.filter((s) => s.parse.type === "string" && s.parse.devGenerated).map((s) => s.name);
  assert.deepEqual(marked.sort(), Object.keys(generateSecrets()).sort());
});
