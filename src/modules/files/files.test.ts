// The files contract, against both storages: disk under DATA_DIR and a real S3-protocol server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { createFakeClock } from "../../core/clock.js";
import { rowsOf } from "../../store/db.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { filesUnder, startS3, upload, type S3Server } from "../../../test/files.js";
import { KNOWN_FILE_TYPES } from "../../config/production.js";
import { FILE_TYPES } from "./types.js";

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const LIMITS = {
  RATE_LIMIT_PER_MINUTE: "1000",
  SENSITIVE_PER_MINUTE: "1000",
  AUTH_REGISTER_PER_MINUTE: "1000",
  AUTH_LOGIN_PER_MINUTE: "1000",
  FILE_MAX_BYTES: "65536",
};

test("the config's list of known file types is the pipeline's", () => {
  assert.deepEqual([...KNOWN_FILE_TYPES].sort(), Object.keys(FILE_TYPES).sort());
});

for (const kind of ["disk", "s3"] as const) {
  describe(`files on ${kind}`, () => {
    let t: TestApp;
    let s3: S3Server | undefined;
    /** Stored objects, whichever the storage. */
    const objects = () =>
      s3 ? s3.objects() : filesUnder(join(t.config.dataDir, "files")).filter((f) => !f.startsWith(".staging"));
    const staging = () => filesUnder(join(t.config.dataDir, "files", ".staging"));
    /** The bytes of a file as a client gets them: directly from disk storage, through the redirect on S3. */
    const download = async (id: string, headers: Record<string, string> = {}) => {
      const res = await t.app.inject({ method: "GET", url: `/api/files/${id}`, headers });
      if (kind === "disk" || res.statusCode !== 302)
        return { status: res.statusCode, body: res.rawPayload, headers: res.headers as Record<string, string> };
      const location = String(res.headers.location);
      assert.ok(location.startsWith(s3!.env.S3_ENDPOINT!), "redirected to the bucket");
      const fetched = await fetch(location);
      return {
        status: fetched.status,
        body: Buffer.from(await fetched.arrayBuffer()),
        headers: Object.fromEntries(fetched.headers),
      };
    };

    before(async () => {
      if (kind === "s3") s3 = await startS3();
      // On S3 the bucket checks presigned URLs against its own clock: the app's starts at the real time.
      t = await startApp({
        env: { ...LIMITS, ...(s3?.env ?? {}) },
        ...(s3 ? { clock: createFakeClock(Date.now()) } : {}),
      });
    });
    after(async () => {
      await t.close();
      await s3?.close();
    });

    test("upload, metadata, listing, download as an attachment, delete: row, object and quota go together", async () => {
      const user = await signedIn(t.app);
      const text = "hello, files\n";
      const res = await upload(t.app, user.access, { name: "notes.txt", type: "text/plain", data: text });
      assert.equal(res.statusCode, 201, res.body);
      const file = res.json();
      assert.deepEqual(Object.keys(file).sort(), ["created_at", "id", "name", "sha256", "size", "type", "visibility"]);
      assert.equal(file.name, "notes.txt");
      assert.equal(file.type, "text/plain");
      assert.equal(file.size, Buffer.byteLength(text));
      assert.equal(file.sha256, sha256(text));
      assert.equal(file.visibility, "private");
      assert.equal(objects().length, 1);
      assert.deepEqual(staging(), [], "nothing left in staging");

      const meta = await t.app.inject({
        method: "GET",
        url: `/api/files/${file.id}?meta=1`,
        headers: bearer(user.access),
      });
      assert.deepEqual(meta.json(), file);
      const list = await t.app.inject({ method: "GET", url: "/api/files", headers: bearer(user.access) });
      assert.deepEqual(list.json(), { files: [file], next_cursor: null });

      const got = await download(file.id, bearer(user.access));
      assert.equal(got.status, 200);
      assert.equal(got.body.toString(), text);
      assert.match(got.headers["content-disposition"]!, /^attachment; filename="notes.txt"/);
      if (kind === "disk") {
        assert.equal(got.headers["x-content-type-options"], "nosniff");
        assert.match(got.headers["content-security-policy"]!, /sandbox/);
        assert.equal(got.headers["content-type"], "text/plain; charset=utf-8");
      }
      assert.equal(await t.app.bulwark.files.usage(user.userId), file.size);

      const del = await t.app.inject({ method: "DELETE", url: `/api/files/${file.id}`, headers: bearer(user.access) });
      assert.equal(del.statusCode, 204);
      assert.deepEqual(objects(), [], "the object is gone");
      assert.equal(
        (await t.app.inject({ method: "GET", url: `/api/files/${file.id}?meta=1`, headers: bearer(user.access) }))
          .statusCode,
        404,
      );
      assert.equal(await t.app.bulwark.files.usage(user.userId), 0, "the quota is given back");

      const audit = rowsOf<{ event_type: string; result: string; target: string; metadata: unknown }>(
        await t.store.db.execute(
          sql`select event_type, result, target, metadata from audit_logs where target = ${file.id} order by id`,
        ),
      );
      assert.deepEqual(audit.map((r) => `${r.event_type} ${r.result}`).sort(), [
        "file.delete success",
        "file.upload success",
      ]);
      const recorded = JSON.stringify(audit);
      assert.ok(!recorded.includes("hello") && !recorded.includes("notes.txt"), "metadata only: no bytes, no name");
    });

    test("private files answer 404 to everyone but their owner; public ones are readable without credentials", async () => {
      const owner = await signedIn(t.app);
      const other = await signedIn(t.app);
      const secret = (await upload(t.app, owner.access, { name: "secret.txt", data: "private words" })).json();
      for (const headers of [bearer(other.access), {}]) {
        assert.equal((await t.app.inject({ method: "GET", url: `/api/files/${secret.id}`, headers })).statusCode, 404);
        assert.equal(
          (await t.app.inject({ method: "GET", url: `/api/files/${secret.id}?meta=1`, headers })).statusCode,
          404,
        );
      }
      const missing = await t.app.inject({
        method: "GET",
        url: `/api/files/${"0".repeat(32)}`,
        headers: bearer(other.access),
      });
      assert.equal(missing.statusCode, 404, "the same answer as a file that does not exist");
      assert.equal(
        (await t.app.inject({ method: "DELETE", url: `/api/files/${secret.id}`, headers: bearer(other.access) }))
          .statusCode,
        404,
      );
      assert.deepEqual(
        (await t.app.inject({ method: "GET", url: "/api/files", headers: bearer(other.access) })).json().files,
        [],
      );
      assert.equal(
        (await download(secret.id, bearer(owner.access))).body.toString(),
        "private words",
        "the owner still can",
      );

      const shared = (
        await upload(t.app, owner.access, { name: "shared.txt", data: "for everyone", visibility: "public" })
      ).json();
      assert.equal(shared.visibility, "public");
      assert.equal(shared.url, `${t.config.publicUrl}/api/files/${shared.id}`);
      const anonymous = await download(shared.id);
      assert.equal(anonymous.status, 200);
      assert.equal(anonymous.body.toString(), "for everyone");
      assert.match(anonymous.headers["content-disposition"]!, /^attachment/);

      // A disabled owner's files stop being served, public ones included.
      const admin = await signedIn(t.app);
      await t.app.bulwark.accounts.promote(admin.username, { userId: null });
      assert.equal(
        (
          await t.app.inject({
            method: "POST",
            url: `/api/admin/users/${owner.userId}/disable`,
            headers: bearer(admin.access),
          })
        ).statusCode,
        204,
      );
      assert.equal((await t.app.inject({ method: "GET", url: `/api/files/${shared.id}` })).statusCode, 404);
    });

    test("an oversized upload is cut off while streaming with 413, and nothing of it is kept", async () => {
      const user = await signedIn(t.app);
      const before = objects().length;
      const res = await upload(t.app, user.access, { name: "big.txt", data: "a".repeat(65_537) });
      assert.equal(res.statusCode, 413, res.body);
      assert.equal(res.json().error.code, "payload_too_large");
      assert.equal(objects().length, before, "no object");
      assert.deepEqual(staging(), [], "the partial staging file is removed");
      assert.deepEqual(
        (await t.app.inject({ method: "GET", url: "/api/files", headers: bearer(user.access) })).json().files,
        [],
      );
      assert.equal(await t.app.bulwark.files.usage(user.userId), 0);
      const exact = await upload(t.app, user.access, { name: "fits.txt", data: "a".repeat(65_536) });
      assert.equal(exact.statusCode, 201, "exactly FILE_MAX_BYTES is accepted");
    });
  });
}
