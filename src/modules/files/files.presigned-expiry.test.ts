// Threat: a download link to a private file on S3 that keeps working after it leaks (logs, referrers, shared chats).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createFakeClock } from "../../core/clock.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { startS3, upload, type S3Server } from "../../../test/files.js";
import { PRESIGNED_TTL_SECONDS } from "./storage.js";

let s3: S3Server;
let t: TestApp;
before(async () => {
  s3 = await startS3();
  // The bucket judges expiry by its own (real) clock; the app's clock says when each URL was signed,
  // and starts TTL + 1 seconds in the past.
  t = await startApp({
    env: { SENSITIVE_PER_MINUTE: "1000", AUTH_REGISTER_PER_MINUTE: "1000", AUTH_LOGIN_PER_MINUTE: "1000", ...s3.env },
    clock: createFakeClock(Date.now() - (PRESIGNED_TTL_SECONDS + 1) * 1000),
  });
});
after(async () => {
  await t.close();
  await s3.close();
});

test("the redirect to a private S3 object is a presigned URL that works for a minute from its signing and is refused after", async () => {
  const user = await signedIn(t.app);
  const file = (await upload(t.app, user.access, { name: "report.pdf.txt", data: "quarterly numbers\n" })).json();
  assert.equal(
    (await t.app.inject({ method: "GET", url: `/api/files/${file.id}` })).statusCode,
    404,
    "no redirect without credentials",
  );

  // Signed TTL + 1 seconds ago (by the app's clock), as a leaked link is by the time someone tries it.
  const old = await t.app.inject({ method: "GET", url: `/api/files/${file.id}`, headers: bearer(user.access) });
  assert.equal(old.statusCode, 302);
  const stale = await fetch(String(old.headers.location));
  assert.equal(stale.status, 403);
  assert.match(await stale.text(), /expired/);

  t.clock.advance((PRESIGNED_TTL_SECONDS + 1) * 1000);
  const fresh = await t.app.inject({ method: "GET", url: `/api/files/${file.id}`, headers: bearer(user.access) });
  assert.equal(fresh.statusCode, 302);
  const url = new URL(String(fresh.headers.location));
  assert.equal(url.searchParams.get("X-Amz-Expires"), String(PRESIGNED_TTL_SECONDS));
  assert.ok(PRESIGNED_TTL_SECONDS <= 300, "short-lived");
  const ok = await fetch(url);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), "quarterly numbers\n");
  assert.match(String(ok.headers.get("content-disposition")), /^attachment/);
});
