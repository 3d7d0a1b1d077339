// Threat: racing concurrent uploads past the storage quota (each checks before any of them is counted).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { upload } from "../../../test/files.js";

let t: TestApp;
before(async () => {
  t = await startApp({
    env: {
      SENSITIVE_PER_MINUTE: "1000",
      AUTH_REGISTER_PER_MINUTE: "1000",
      AUTH_LOGIN_PER_MINUTE: "1000",
      FILE_QUOTA_BYTES: "10000",
    },
  });
});
after(() => t.close());

test("ten concurrent 3000-byte uploads against a 10000-byte quota: exactly three are stored, the rest get 413", async () => {
  const user = await signedIn(t.app);
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      upload(t.app, user.access, { name: `part-${i}.txt`, data: `${i}`.padEnd(3000, "x") }),
    ),
  );
  const statuses = results.map((r) => r.statusCode).sort();
  assert.deepEqual(statuses, [201, 201, 201, 413, 413, 413, 413, 413, 413, 413], results.map((r) => r.body).join("\n"));
  for (const refused of results.filter((r) => r.statusCode === 413))
    assert.match(refused.json().error.message, /quota/);
  const listed = (await t.app.inject({ method: "GET", url: "/api/files", headers: bearer(user.access) })).json()
    .files as { size: number }[];
  assert.equal(listed.length, 3);
  const usage = await t.app.bulwark.files.usage(user.userId);
  assert.equal(usage, 9000);
  assert.equal(
    usage,
    listed.reduce((sum, f) => sum + f.size, 0),
    "the reservation is exactly what is stored",
  );

  // Another user's quota is their own; deleting gives bytes back.
  const other = await signedIn(t.app);
  assert.equal((await upload(t.app, other.access, { name: "mine.txt", data: "y".repeat(3000) })).statusCode, 201);
  const first = (await t.app.inject({ method: "GET", url: "/api/files", headers: bearer(user.access) })).json()
    .files[0];
  assert.equal(
    (await t.app.inject({ method: "DELETE", url: `/api/files/${first.id}`, headers: bearer(user.access) })).statusCode,
    204,
  );
  assert.equal((await upload(t.app, user.access, { name: "again.txt", data: "z".repeat(3000) })).statusCode, 201);
});
