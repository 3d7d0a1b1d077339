// `node --import tsx bench/files.ts`: upload throughput of one 50 MB non-image file (a PDF header
// over random bytes) through POST /api/files on disk storage, against writing the same bytes with
// fs; then the process's peak RSS during ten concurrent 50 MB uploads. The server listens on
// 127.0.0.1 in this process; request bodies stream from a file, so the client holds one chunk each.
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { copyFile, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { randomBytes } from "node:crypto";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { testSecrets } from "../test/harness.js";
import { signedIn } from "../test/identity.js";

const SIZE = 50 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-files-"));
const source = join(dir, "source.pdf");
writeFileSync(source, Buffer.concat([Buffer.from("%PDF-1.7\n"), randomBytes(SIZE - 9)]));

const config = loadConfig(
  {
    DATA_DIR: join(dir, "data"),
    LOG_LEVEL: "silent",
    ...testSecrets(),
    FILE_MAX_BYTES: String(SIZE + 1024),
    FILE_QUOTA_BYTES: String(100 * SIZE),
    RATE_LIMIT_PER_MINUTE: "100000",
    SENSITIVE_PER_MINUTE: "100000",
    AUTH_REGISTER_PER_MINUTE: "1000",
    AUTH_LOGIN_PER_MINUTE: "1000",
  },
  { generateDevSecrets: false },
);
const app = await createApp(config);
await app.listen({ host: "127.0.0.1", port: 0 });
const port = (app.server.address() as { port: number }).port;
const user = await signedIn(app);

const BOUNDARY = "bench-boundary-1f3a";
const head = Buffer.from(
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
);
const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);

/** Streams one upload of the source file; resolves with the status. */
function uploadOnce(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/api/files",
        headers: {
          authorization: `Bearer ${user.access}`,
          "content-type": `multipart/form-data; boundary=${BOUNDARY}`,
          "content-length": String(head.length + SIZE + tail.length),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    const body = new PassThrough();
    body.pipe(req);
    body.write(head);
    const file = createReadStream(source);
    file.pipe(body, { end: false });
    file.on("end", () => body.end(tail));
  });
}

const mbps = (ms: number) => (SIZE / 1024 / 1024 / (ms / 1000)).toFixed(0);
const time = async (fn: () => Promise<unknown>) => {
  const start = performance.now();
  await fn();
  return performance.now() - start;
};

// Warm-up, then the median of three of each.
await uploadOnce();
const uploads: number[] = [];
const copies: number[] = [];
for (let i = 0; i < 3; i++) {
  uploads.push(
    await time(async () => {
      if ((await uploadOnce()) !== 201) throw new Error("upload failed");
    }),
  );
  const target = join(dir, `copy-${i}`);
  copies.push(await time(() => copyFile(source, target)));
  await rm(target);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
console.log(
  `one 50 MB upload: ${median(uploads).toFixed(0)} ms (${mbps(median(uploads))} MB/s); fs copy of the same bytes: ${median(copies).toFixed(0)} ms (${mbps(median(copies))} MB/s)`,
);

const baseline = process.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);
const concurrent = await time(async () => {
  const statuses = await Promise.all(Array.from({ length: 10 }, () => uploadOnce()));
  if (statuses.some((s) => s !== 201)) throw new Error(`statuses ${statuses.join(",")}`);
});
clearInterval(sampler);
const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
console.log(
  `ten concurrent 50 MB uploads: ${concurrent.toFixed(0)} ms; RSS before ${mb(baseline)} MB, peak ${mb(peak)} MB (+${mb(peak - baseline)} MB for 500 MB uploaded)`,
);

await app.close();
rmSync(dir, { recursive: true, force: true });
