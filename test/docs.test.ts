// The docs stay true to the code: the configuration page is generated from the settings table,
// every error code is documented (and nothing else is), the README's commands and library
// example are the ones that work, and links between the docs resolve.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { renderConfigDocs } from "../scripts/gen-config-docs.js";
import { SETTINGS } from "../src/config/settings.js";
import { ERROR_CODES } from "../src/core/errors.js";
import { createApp, Type, type Config } from "../src/index.js";
import { testConfig } from "./harness.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const read = (path: string): string => readFileSync(resolve(ROOT, path), "utf8");

/** The fenced code blocks of a markdown text, with their info string. */
function codeBlocks(markdown: string): { lang: string; code: string }[] {
  return [...markdown.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!.trim(), code: m[2]! }));
}

/** Non-blank lines with their indentation removed: layout may differ, code may not. */
function codeLines(code: string): string[] {
  return code.split("\n").map((line) => line.trim()).filter(Boolean);
}

test("docs/configuration.md is what scripts/gen-config-docs.ts renders from the settings table", () => {
  const committed = read("docs/configuration.md");
  assert.ok(committed === renderConfigDocs(), "docs/configuration.md is stale: run npm run docs:config");
});

test("every setting in SETTINGS is documented in docs/configuration.md", () => {
  const doc = read("docs/configuration.md");
  for (const setting of SETTINGS) assert.ok(doc.includes(`\`${setting.name}\``), `${setting.name} is missing from docs/configuration.md`);
});

test("docs/errors.md documents every code of ERROR_CODES with its status, and no other code", () => {
  const doc = read("docs/errors.md");
  const codes = Object.keys(ERROR_CODES);
  for (const code of codes) assert.ok(doc.includes(`\`${code}\``), `error code ${code} is missing from docs/errors.md`);

  // The code table: one row per code, `| status | \`code\` | …`.
  const rows = [...doc.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)].map((m) => ({ status: Number(m[1]), code: m[2]! }));
  assert.deepEqual(rows.map((r) => r.code).sort(), [...codes].sort(), "the code table has exactly one row per code of ERROR_CODES");
  for (const row of rows) {
    assert.equal(row.status, ERROR_CODES[row.code as keyof typeof ERROR_CODES].status, `status of ${row.code}`);
  }
  // Codes shown in examples and in the other tables must be real codes too.
  const known = new Set<string>(codes);
  for (const m of doc.matchAll(/"code":\s*"([^"]+)"/g)) assert.ok(known.has(m[1]!), `example uses unknown code ${m[1]}`);
  for (const m of doc.matchAll(/^\|[^|\n]+\| \d{3} \| `([a-z_]+)` \|/gm)) assert.ok(known.has(m[1]!), `a table names unknown code ${m[1]}`);
});

test("the README states the two commands: install and start, install and test", () => {
  const shell = codeBlocks(read("README.md")).filter((b) => b.lang === "sh").map((b) => b.code.trim());
  assert.ok(shell.includes("npm install && npx bulwark start"), "README: `npm install && npx bulwark start` in a sh block");
  assert.ok(shell.includes("npm install && npm test"), "README: `npm install && npm test` in a sh block");
  const pkg = JSON.parse(read("package.json")) as { bin?: Record<string, string>; scripts?: Record<string, string> };
  assert.equal(pkg.bin?.bulwark, "dist/main.js", "the package has the `bulwark` bin that npx runs");
  assert.match(pkg.scripts?.prepare ?? "", /build/, "npm install builds dist/ through `prepare`");
});

/** The README's library example, with `loadConfig` given by the test (a throwaway DATA_DIR, port 0). */
async function readmeExample(loadConfig: () => Config) {
  // README example: begin (identical to the ts block in README.md, minus its import line)
  const app = await createApp(loadConfig());

  const Greeting = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
  const GreetingReply = Type.Object({ greeting: Type.String() }, { additionalProperties: false });

  app.post<{ Body: Type.Static<typeof Greeting> }>("/api/greetings", {
    schema: { body: Greeting, response: { 201: GreetingReply } },
    config: { rateLimit: "sensitive", audit: "greeting.create" },
  }, async (req, reply) => reply.code(201).send({ greeting: `Hello, ${req.body.name}` }));

  await app.listen({ host: app.bulwark.config.host, port: app.bulwark.config.port });
  // README example: end
  return app;
}

test("the README's library example is this test's code, and it serves with Bulwark's protections", async () => {
  const source = read("test/docs.test.ts");
  const region = /\/\/ README example: begin[^\n]*\n([\s\S]*?)\n\s*\/\/ README example: end/.exec(source)?.[1];
  assert.ok(region, "the marked example region exists in test/docs.test.ts");
  const ts = codeBlocks(read("README.md")).filter((b) => b.lang === "ts");
  assert.equal(ts.length, 1, "README.md has one ts block");
  const [importLine, ...rest] = codeLines(ts[0]!.code);
  assert.equal(importLine, 'import { createApp, loadConfig, Type } from "bulwark";');
  assert.deepEqual(rest, codeLines(region), "the README example and test/docs.test.ts differ: keep them identical");

  const app = await readmeExample(() => testConfig({ HOST: "127.0.0.1", PORT: "0" }));
  try {
    const address = app.server.address();
    assert.ok(address && typeof address === "object", "the example listens on a socket");
    const res = await fetch(`http://127.0.0.1:${address.port}/api/greetings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Ada" }),
    });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { greeting: "Hello, Ada" });
    assert.equal(res.headers.get("x-xss-protection"), "0");
    assert.match(res.headers.get("x-request-id") ?? "", /^[A-Za-z0-9._:-]{8,128}$/);
    assert.match(res.headers.get("ratelimit-policy") ?? "", /"sensitive";q=10;w=60/);

    const extra = await app.inject({ method: "POST", url: "/api/greetings", payload: { name: "Ada", role: "admin" } });
    assert.equal(extra.statusCode, 400);
    assert.deepEqual(extra.json().error.details, [{ path: "role", message: "unknown field" }]);
    const { events } = await app.bulwark.audit.query({ eventType: "greeting.create" });
    assert.equal(events.length, 1, "the refused call was audited");
    assert.equal(events[0]!.result, "failure");
  } finally {
    await app.close();
  }
});

test("relative links in README.md and docs/ point at files that exist", () => {
  for (const file of ["README.md", "docs/configuration.md", "docs/errors.md", "docs/security-model.md", "docs/operations.md"]) {
    const text = read(file);
    for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)\s]*)?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      assert.ok(existsSync(resolve(ROOT, dirname(file), target)), `${file} links to missing ${target}`);
    }
  }
});
