// Threat: a process killed between storing an upload's bytes and committing its row (SIGKILL, OOM,
// a node lost) leaves an object that no row names: never served, never counted, never deleted, so
// the bytes of a refused or half-done upload stay forever and the disk or bucket fills.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createFakeClock } from "../../core/clock.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { login, signedIn } from "../../../test/identity.js";
import { filesUnder, startS3, upload, type S3Server } from "../../../test/files.js";

const HOUR = 3_600_000;
const LIMITS = { RATE_LIMIT_PER_MINUTE: "1000", SENSITIVE_PER_MINUTE: "1000", AUTH_LOGIN_PER_MINUTE: "1000" };

for (const kind of ["disk", "s3"] as const) {
  describe(`orphaned objects on ${kind}`, () => {
    let t: TestApp;
    let s3: S3Server | undefined;
    const objects = () =>
      s3 ? s3.objects() : filesUnder(join(t.config.dataDir, "files")).filter((f) => !f.startsWith(".staging"));
    /** Stores an object the way `put` does, with no row: what a crash before the commit leaves. */
    const leaveOrphan = async (): Promise<string> => {
      const key = randomBytes(16).toString("hex");
      if (s3) {
        const client = new S3Client({
          region: s3.env.S3_REGION!,
          endpoint: s3.env.S3_ENDPOINT!,
          forcePathStyle: true,
          // s3rver does not understand the SDK's newer default checksums (the app sets the same).
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
          credentials: { accessKeyId: s3.env.S3_ACCESS_KEY_ID!, secretAccessKey: s3.env.S3_SECRET_ACCESS_KEY! },
        });
        await client.send(new PutObjectCommand({ Bucket: s3.env.S3_BUCKET!, Key: key, Body: "half an upload" }));
        client.destroy();
      } else {
        const dir = join(t.config.dataDir, "files", key.slice(0, 2));
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, key), "half an upload");
      }
      return key;
    };

    before(async () => {
      if (kind === "s3") s3 = await startS3();
      // Object times are the storage's own (file mtime, S3 LastModified): the clock starts at the real time.
      t = await startApp({ env: { ...LIMITS, ...(s3?.env ?? {}) }, clock: createFakeClock(Date.now()) });
    });
    after(async () => {
      await t.close();
      await s3?.close();
    });

    test("pruning removes an object no row names once it is an hour old, and keeps every file that has a row", async () => {
      const user = await signedIn(t.app);
      const kept = await upload(t.app, user.access, { data: "a stored file", type: "text/plain", name: "a.txt" });
      assert.equal(kept.statusCode, 201, kept.body);
      const orphan = await leaveOrphan();
      const before = objects();
      assert.equal(before.length, 2);
      assert.ok(before.some((o) => o.endsWith(orphan)));

      // Young: it may be an upload about to commit on another instance.
      assert.equal((await t.app.bulwark.prune()).file_orphans, 0);
      assert.equal(objects().length, 2);

      t.clock.advance(2 * HOUR);
      assert.equal((await t.app.bulwark.prune()).file_orphans, 1);
      const left = objects();
      assert.equal(left.length, 1);
      assert.ok(!left.some((o) => o.endsWith(orphan)), "the orphan is gone");
      const access = (await login(t.app, user)).json().access_token as string;
      const res = await t.app.inject({
        method: "GET",
        url: `/api/files/${kept.json().id}`,
        headers: { authorization: `Bearer ${access}` },
      });
      assert.ok([200, 302].includes(res.statusCode), "the file with a row is still served");
    });
  });
}
