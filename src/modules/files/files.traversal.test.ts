// Threat: path traversal through the uploaded file name (../../x, NUL bytes, look-alike unicode dots, absolute paths).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startApp, type TestApp } from "../../../test/harness.js";
import { signedIn } from "../../../test/identity.js";
import { filesUnder, upload } from "../../../test/files.js";

let t: TestApp;
before(async () => {
  t = await startApp({
    env: { SENSITIVE_PER_MINUTE: "1000", AUTH_REGISTER_PER_MINUTE: "1000", AUTH_LOGIN_PER_MINUTE: "1000" },
  });
});
after(() => t.close());

const NAMES = [
  "../../x.txt",
  "..\\..\\x.txt",
  "/etc/passwd.txt",
  "x\u0000.txt",
  "\u2024\u2024/\u2024\u2024/x.txt",
  "\uFF0E\uFF0E/\uFF0E\uFF0E/x.txt",
  "%2e%2e%2fx.txt",
  "..",
  ".hidden.txt",
  "evil\u202Etxt.exe.txt",
];

test("no client file name reaches the file system: objects get server-made names, the name is cleaned display text", async () => {
  const user = await signedIn(t.app);
  const root = join(t.config.dataDir, "files");
  for (const name of NAMES) {
    const res = await upload(t.app, user.access, { name, type: "text/plain", data: `from ${JSON.stringify(name)}\n` });
    assert.equal(res.statusCode, 201, `${JSON.stringify(name)}: ${res.body}`);
    const stored: string = res.json().name;
    assert.ok(
      !/[\\/\u0000-\u001f\u202e]/.test(stored),
      `${JSON.stringify(name)} is stored as ${JSON.stringify(stored)}`,
    );
    assert.ok(!stored.startsWith(".") && !/^[\u2024\uFF0E]/.test(stored), `no leading dots: ${JSON.stringify(stored)}`);
    const got = await t.app.inject({
      method: "GET",
      url: `/api/files/${res.json().id}`,
      headers: { authorization: `Bearer ${user.access}` },
    });
    assert.equal(got.statusCode, 200);
    assert.match(
      String(got.headers["content-disposition"]),
      /^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9%._~!-]*$/,
    );
  }
  // The NUL trick (a name a C library would cut at "x.txt") is read whole: .html over text is refused.
  const nul = await upload(t.app, user.access, { name: "x.txt\u0000.html", type: "text/plain", data: "words\n" });
  assert.equal(nul.statusCode, 415, nul.body);
  const stored = filesUnder(root).filter((f) => !f.startsWith(".staging"));
  assert.equal(stored.length, NAMES.length);
  for (const path of stored) assert.match(path, /^[0-9a-f]{2}\/[0-9a-f]{32}$/, "every object is named by the server");
  for (const escaped of [
    join(root, "..", "x.txt"),
    join(root, "..", "..", "x.txt"),
    join(t.config.dataDir, "x.txt"),
    join(root, "x.txt"),
  ]) {
    assert.ok(!existsSync(escaped), `nothing written at ${escaped}`);
  }
});
