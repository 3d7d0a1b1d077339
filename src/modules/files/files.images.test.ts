// Threat: hostile or leaky images — decompression bombs that exhaust memory, EXIF GPS that reveals where a photo was taken.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import sharp from "sharp";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn, type SignedIn } from "../../../test/identity.js";
import { upload } from "../../../test/files.js";

let t: TestApp;
let user: SignedIn;
before(async () => {
  t = await startApp({
    env: {
      SENSITIVE_PER_MINUTE: "1000",
      AUTH_REGISTER_PER_MINUTE: "1000",
      AUTH_LOGIN_PER_MINUTE: "1000",
      FILE_MAX_PIXELS: "10000000",
    },
  });
  user = await signedIn(t.app);
});
after(() => t.close());

test("a decompression bomb (a small PNG of 25 million pixels) is refused with 413 before it is decoded", async () => {
  const bomb = await sharp({ create: { width: 5000, height: 5000, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .png({ compressionLevel: 9 })
    .toBuffer();
  assert.ok(bomb.length < 200_000, `the bomb is small on the wire (${bomb.length} bytes)`);
  const res = await upload(t.app, user.access, { name: "bomb.png", type: "image/png", data: bomb });
  assert.equal(res.statusCode, 413, res.body);
  assert.equal(res.json().error.code, "payload_too_large");
  assert.match(res.json().error.message, /pixels/);
  assert.deepEqual(
    (await t.app.inject({ method: "GET", url: "/api/files", headers: bearer(user.access) })).json().files,
    [],
  );
});

test("a truncated or corrupt image is refused with 415, not a 500", async () => {
  const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#08f" } })
    .jpeg()
    .toBuffer();
  const res = await upload(t.app, user.access, {
    name: "broken.jpg",
    type: "image/jpeg",
    data: image.subarray(0, 200),
  });
  assert.equal(res.statusCode, 415, res.body);
  assert.match(res.json().error.message, /could not be decoded/);
});

test("EXIF (GPS position included) is stripped, the orientation applied, and the stored bytes are the re-encoded ones", async () => {
  // 40×20, tagged "rotate 90° clockwise to display" (orientation 6), with a GPS position.
  const photo = await sharp({ create: { width: 40, height: 20, channels: 3, background: "#3a3" } })
    .jpeg()
    .withExif({
      IFD0: { Make: "Camera Co", Copyright: "me" },
      IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 24/1", GPSLongitudeRef: "E", GPSLongitude: "2/1 21/1 3/1" },
    })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const before = await sharp(photo).metadata();
  assert.ok(before.exif && before.exif.includes("Camera Co"), "the upload carries EXIF");
  assert.equal(before.orientation, 6);

  const res = await upload(t.app, user.access, { name: "holiday.jpg", type: "image/jpeg", data: photo });
  assert.equal(res.statusCode, 201, res.body);
  const file = res.json();
  const got = await t.app.inject({ method: "GET", url: `/api/files/${file.id}`, headers: bearer(user.access) });
  const stored = got.rawPayload;
  const after = await sharp(stored).metadata();
  assert.equal(after.exif, undefined, "no EXIF at all, so no GPS");
  assert.equal(after.xmp, undefined);
  assert.equal(after.orientation, undefined);
  assert.equal(after.width, 20, "rotated: the orientation was applied before the tag was dropped");
  assert.equal(after.height, 40);
  assert.ok(!stored.includes("Camera Co"));
  assert.equal(file.size, stored.length, "size and hash are of the stored bytes");
  assert.equal(file.sha256, createHash("sha256").update(stored).digest("hex"));
  assert.notEqual(file.sha256, createHash("sha256").update(photo).digest("hex"));
});
