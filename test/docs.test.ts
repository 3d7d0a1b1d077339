// The docs stay true to the code: the configuration page is generated from the settings table,
// every error code is documented (and nothing else is), the README's commands and library
// example are the ones that work, the commands the docs name exist, the identity page's token
// verification example and import file work against a live Bulwark, and links between the docs
// (anchors included) resolve.
import { currentRoutesDocs } from "../scripts/gen-routes-docs.js";
import { MODULES } from "../src/modules/index.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { renderConfigDocs } from "../scripts/gen-config-docs.js";
import { readImportText, rowsFromRecords } from "../src/cli/users-import.js";
import { SETTINGS } from "../src/config/settings.js";
import { ERROR_CODES } from "../src/core/errors.js";
import { createApp, Type, type Config } from "../src/index.js";
import { testConfig } from "./harness.js";
import { bearer, login, signedIn } from "./identity.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const read = (path: string): string => readFileSync(resolve(ROOT, path), "utf8");
/** README.md and every page under docs/. */
const DOC_FILES = [
  "README.md",
  ...readdirSync(resolve(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];

/** The fenced code blocks of a markdown text, with their info string. */
function codeBlocks(markdown: string): { lang: string; code: string }[] {
  return [...markdown.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!.trim(), code: m[2]! }));
}

/** Non-blank lines with their indentation removed: layout may differ, code may not. */
function codeLines(code: string): string[] {
  return code
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}

test("docs/configuration.md is what scripts/gen-config-docs.ts renders from the settings table", () => {
  const committed = read("docs/configuration.md");
  assert.ok(committed === renderConfigDocs(), "docs/configuration.md is stale: run npm run docs:config");
});

test("every setting in SETTINGS is documented in docs/configuration.md", () => {
  const doc = read("docs/configuration.md");
  for (const setting of SETTINGS)
    assert.ok(doc.includes(`\`${setting.name}\``), `${setting.name} is missing from docs/configuration.md`);
});

test("docs/errors.md documents every code of ERROR_CODES with its status, and no other code", () => {
  const doc = read("docs/errors.md");
  const codes = Object.keys(ERROR_CODES);
  for (const code of codes) assert.ok(doc.includes(`\`${code}\``), `error code ${code} is missing from docs/errors.md`);

  // The code table: one row per code, `| status | \`code\` | …`.
  const rows = [...doc.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)].map((m) => ({ status: Number(m[1]), code: m[2]! }));
  assert.deepEqual(
    rows.map((r) => r.code).sort(),
    [...codes].sort(),
    "the code table has exactly one row per code of ERROR_CODES",
  );
  for (const row of rows) {
    assert.equal(row.status, ERROR_CODES[row.code as keyof typeof ERROR_CODES].status, `status of ${row.code}`);
  }
  // Codes shown in examples and in the other tables must be real codes too.
  const known = new Set<string>(codes);
  for (const m of doc.matchAll(/"code":\s*"([^"]+)"/g))
    assert.ok(known.has(m[1]!), `example uses unknown code ${m[1]}`);
  for (const m of doc.matchAll(/^\|[^|\n]+\| \d{3} \| `([a-z_]+)` \|/gm))
    assert.ok(known.has(m[1]!), `a table names unknown code ${m[1]}`);
});

test("the README states the two commands: install and start, install and test", () => {
  const shell = codeBlocks(read("README.md"))
    .filter((b) => b.lang === "sh")
    .map((b) => b.code.trim());
  assert.ok(
    shell.includes("npm install && npx bulwark start"),
    "README: `npm install && npx bulwark start` in a sh block",
  );
  assert.ok(shell.includes("npm install && npm test"), "README: `npm install && npm test` in a sh block");
  const pkg = JSON.parse(read("package.json")) as { bin?: Record<string, string>; scripts?: Record<string, string> };
  assert.equal(pkg.bin?.bulwark, "dist/main.js", "the package has the `bulwark` bin that npx runs");
  assert.match(pkg.scripts?.prepare ?? "", /build/, "npm install builds dist/ through `prepare`");
});

/** The README's library example, with `loadConfig` given by the test (a throwaway DATA_DIR, port 0). */
async function readmeExample(loadConfig: () => Config) {
  // README example: begin (identical to the ts block in README.md, minus its import line)
  const app = await createApp(loadConfig());
  app.bulwark.audit.define({ "greeting.create": { description: "Someone was greeted." } });

  const Greeting = Type.Object(
    { name: Type.String({ minLength: 1, maxLength: 100 }) },
    { additionalProperties: false },
  );
  const GreetingReply = Type.Object({ greeting: Type.String() }, { additionalProperties: false });

  app.post<{ Body: Type.Static<typeof Greeting> }>(
    "/api/greetings",
    {
      schema: { body: Greeting, response: { 201: GreetingReply } },
      config: { auth: "public", rateLimit: "sensitive", audit: "greeting.create" },
    },
    async (req, reply) => reply.code(201).send({ greeting: `Hello, ${req.body.name}` }),
  );

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
  for (const file of DOC_FILES) {
    const text = read(file);
    for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)\s]*)?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      assert.ok(existsSync(resolve(ROOT, dirname(file), target)), `${file} links to missing ${target}`);
    }
  }
});

/** The anchors GitHub gives a markdown page's headings (lower case, punctuation dropped, spaces to dashes, repeats numbered). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, "");
  for (const m of prose.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

test("links to a heading (#anchor) in README.md and docs/ name a heading that exists", () => {
  for (const file of DOC_FILES) {
    const text = read(file);
    for (const m of text.matchAll(/\]\(([^)#\s]*)#([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target) || (target !== "" && !target.endsWith(".md"))) continue;
      const page = target === "" ? file : join(dirname(file), target);
      assert.ok(
        anchors(read(page)).has(m[2]!),
        `${file} links to ${target || file}#${m[2]}, which has no such heading`,
      );
    }
  }
});

/** The commands and subcommands that `bulwark --help` lists (read from src/main.ts, which runs the CLI when imported). */
function cliCommands(): Map<string, Set<string>> {
  const help = /const HELP = `([\s\S]*?)`;/.exec(read("src/main.ts"))?.[1];
  assert.ok(help, "src/main.ts has a HELP text");
  const commands = new Map<string, Set<string>>();
  for (const m of help.matchAll(/^ {2}([a-z][a-z-]*)(?: ([a-z][a-z-]*))?(?: [A-Z]+)? {2,}/gm)) {
    const subs = commands.get(m[1]!) ?? new Set<string>();
    if (m[2]) subs.add(m[2]);
    commands.set(m[1]!, subs);
  }
  return commands;
}

test("every `bulwark …` command the docs name is one the CLI has", () => {
  const commands = cliCommands();
  assert.ok(commands.has("start") && commands.get("keys")?.has("rotate-signing"), "the help text was parsed");
  for (const file of DOC_FILES) {
    const text = read(file);
    // Inline code spans, and command lines in code blocks.
    const mentions = [
      ...[...text.matchAll(/`(?:npx )?bulwark ([^`]+)`/g)].map((m) => m[1]!),
      ...[...text.matchAll(/^(?:\$ )?npx bulwark (.+)$/gm)].map((m) => m[1]!),
    ];
    for (const mention of mentions) {
      const [command, sub] = mention.trim().split(/\s+/);
      if (!command || !/^[a-z][a-z-]*$/.test(command)) continue;
      const subs = commands.get(command);
      assert.ok(subs, `${file} names \`bulwark ${mention}\`, but the CLI has no command ${command}`);
      if (subs.size > 0 && sub !== undefined && /^[a-z][a-z-]*$/.test(sub)) {
        assert.ok(subs.has(sub), `${file} names \`bulwark ${mention}\`, but ${command} has no subcommand ${sub}`);
      }
    }
  }
});

/** A TCP port free at the moment of asking. */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

test("docs/identity.md: the jose example verifies a live Bulwark's token through the JWKS (and does not see revocation); the import file imports", async () => {
  const doc = read("docs/identity.md");
  const ts = codeBlocks(doc).filter((b) => b.lang === "ts");
  assert.equal(ts.length, 1, "docs/identity.md has one ts block");
  const example = ts[0]!.code;
  for (const needed of [
    'algorithms: ["EdDSA"]',
    'typ: "at+jwt"',
    "issuer: BULWARK_URL",
    "audience: `${BULWARK_URL}/api`",
    'const BULWARK_URL = "https://auth.example.com";',
  ]) {
    assert.ok(example.includes(needed), `the example contains ${needed}`);
  }

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = await createApp(
    testConfig({
      HOST: "127.0.0.1",
      PORT: String(port),
      PUBLIC_URL: url,
      RATE_LIMIT_PER_MINUTE: "1000",
      AUTH_REGISTER_PER_MINUTE: "100",
      AUTH_LOGIN_PER_MINUTE: "100",
    }),
  );
  const dir = mkdtempSync(join(tmpdir(), "bulwark-docs-"));
  try {
    await app.listen({ host: "127.0.0.1", port });
    // The example as printed, pointed at this Bulwark, with `jose` resolved from this project.
    const file = join(dir, "verify-example.ts");
    writeFileSync(
      file,
      example
        .replace('"https://auth.example.com"', JSON.stringify(url))
        .replace('from "jose"', `from ${JSON.stringify(import.meta.resolve("jose"))}`),
    );
    const { verifyAccessToken } = (await import(pathToFileURL(file).href)) as {
      verifyAccessToken: (token: string) => Promise<{ userId: string; sessionId: string }>;
    };

    const user = await signedIn(app);
    assert.deepEqual(await verifyAccessToken(user.access), { userId: user.userId, sessionId: user.sessionId });
    const [head, body, signature] = user.access.split(".");
    const forged = `${head}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, "base64url").toString()), sub: "someone-else" })).toString("base64url")}.${signature}`;
    await assert.rejects(verifyAccessToken(forged), "a changed claim breaks the signature");

    // What the page says: verification alone does not see revocation; /api/whoami does.
    assert.equal(
      (await app.inject({ method: "POST", url: "/api/auth/logout", headers: bearer(user.access) })).statusCode,
      204,
    );
    assert.equal(
      (await app.inject({ method: "GET", url: "/api/whoami", headers: bearer(user.access) })).statusCode,
      401,
    );
    assert.deepEqual(await verifyAccessToken(user.access), { userId: user.userId, sessionId: user.sessionId });

    // The CSV shown in "Importing users" is accepted as is, and its bcrypt hashes are real.
    const csv = codeBlocks(doc).filter((b) => b.lang === "csv");
    assert.equal(csv.length, 1, "docs/identity.md has one csv block");
    const rows = rowsFromRecords(readImportText(csv[0]!.code), "csv");
    assert.equal(rows.rows.length, 2);
    const report = await app.bulwark.accounts.importUsers(rows);
    assert.deepEqual([report.imported, report.rejected, report.written], [2, [], true]);
    assert.equal(
      (await login(app, { username: "grace", password: "correct horse battery staple imported" })).statusCode,
      200,
    );
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("docs/routes.md is what scripts/gen-routes-docs.ts renders from the registered routes", async () => {
  const committed = read("docs/routes.md");
  assert.ok(committed === (await currentRoutesDocs()), "docs/routes.md is stale: run npm run docs:routes");
});

test("docs/architecture.md names every module of the list and what it needs", () => {
  const doc = read("docs/architecture.md");
  for (const module of MODULES) {
    assert.ok(doc.includes(`\`${module.name}\``), `module ${module.name} is missing from docs/architecture.md`);
    for (const need of module.needs)
      assert.ok(doc.includes(`${module.name} --> ${need}`), `the diagram lacks ${module.name} --> ${need}`);
  }
});
