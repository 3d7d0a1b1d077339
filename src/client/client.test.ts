// The typed client against a live Bulwark over a real socket: register, sign in, call, sign out;
// its types are what the route registry generates today; a wrong body does not compile; and
// `bulwark/client` resolves through the package's exports once built.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CLIENT_TYPES_PATH, renderClientTypes } from "../../scripts/gen-client.js";
import { randomToken } from "../core/crypto/index.js";
import { startApp, type TestApp } from "../../test/harness.js";
import { goodPassword } from "../../test/identity.js";
import { createClient } from "./index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

let t: TestApp;
let baseUrl: string;
before(async () => {
  t = await startApp();
  await t.app.listen({ host: "127.0.0.1", port: 0 });
  baseUrl = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
});
after(() => t.close());

test("src/client/openapi.ts is what the route registry generates (npm run client:generate)", async () => {
  assert.ok(
    readFileSync(CLIENT_TYPES_PATH, "utf8") === (await renderClientTypes()),
    "src/client/openapi.ts is stale: run npm run client:generate",
  );
});

test("register, sign in, read the profile and sign out with typed calls", async () => {
  const client = createClient({ baseUrl });
  const username = `cl_${randomToken(6).replace(/[^A-Za-z0-9]/g, "x")}`;
  const password = goodPassword();
  const registered = await client.POST("/api/auth/register", {
    body: { username, email: `${username.toLowerCase()}@example.com`, password },
  });
  assert.equal(registered.response.status, 201);
  assert.equal(registered.data?.user.username, username);

  const wrong = await client.signIn({ login: username, password: `${password}x` });
  assert.equal(wrong.status, "error");
  assert.equal(wrong.status === "error" && wrong.error.error.code, "invalid_credentials", "typed error codes");

  assert.deepEqual((await client.signIn({ login: username, password })).status, "signed_in");
  const me = await client.GET("/api/users/me");
  assert.equal(me.data?.user.username, username);

  const invalid = await client.PATCH("/api/users/me", { body: { display_name: 5 as unknown as string } });
  assert.equal(invalid.error?.error.code, "invalid_request");

  await client.signOut();
  assert.equal(client.tokens.get(), null);
  const after = await client.GET("/api/users/me");
  assert.equal(after.response.status, 401);
});

test("a wrong body, path or field does not compile (tsc on a fixture of @ts-expect-error lines)", async () => {
  const config = `${ROOT}test/fixtures/tsconfig.client.json`;
  await run(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, "-p", config]);
  // Without the directives the same file must fail: the errors are real, not the directives'.
  const fixture = readFileSync(`${ROOT}test/fixtures/client-types.ts`, "utf8");
  const stripped = `${ROOT}test/fixtures/client-types.stripped.ts`;
  const strippedConfig = `${ROOT}test/fixtures/tsconfig.stripped.json`;
  writeFileSync(stripped, fixture.replace(/\/\/ @ts-expect-error[^\n]*\n/g, ""));
  writeFileSync(
    strippedConfig,
    JSON.stringify({ extends: "./tsconfig.client.json", files: ["client-types.stripped.ts"] }),
  );
  try {
    const failed = await run(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, "-p", strippedConfig]).then(
      () => undefined,
      (error: { stdout: string }) => error.stdout,
    );
    assert.ok(failed, "the fixture compiles without its @ts-expect-error lines");
    const errors = failed.split("\n").filter((line) => line.includes("error TS"));
    const directives = (fixture.match(/^\s*\/\/ @ts-expect-error/gm) ?? []).length;
    assert.ok(directives >= 5 && errors.length >= directives, failed);
  } finally {
    rmSync(stripped, { force: true });
    rmSync(strippedConfig, { force: true });
  }
});

test(
  "`bulwark/client` resolves through the package's exports to the built client",
  { skip: existsSync(`${ROOT}dist/client/index.js`) ? false : "dist/ is not built (npm install builds it)" },
  async () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as {
      exports: Record<string, { types: string; default: string }>;
    };
    assert.deepEqual(pkg.exports["./client"], { types: "./dist/client/index.d.ts", default: "./dist/client/index.js" });
    const { stdout } = await run(
      process.execPath,
      ["--input-type=module", "-e", "import { createClient } from 'bulwark/client'; console.log(typeof createClient)"],
      { cwd: ROOT },
    );
    assert.equal(stdout.trim(), "function");
    assert.ok(existsSync(`${ROOT}dist/client/index.d.ts`));
  },
);
