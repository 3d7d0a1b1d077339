// Where file bytes live: a directory under DATA_DIR, or an S3 bucket. Objects are named by a
// server-generated id checked against a fixed shape here, so nothing a client sends can become a
// path or a key (no traversal, no overwriting another object).
import { createReadStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";

/** A stored object's name: 32 lower-case hex characters, nothing else. */
const KEY = /^[0-9a-f]{32}$/;

/** How a stored object is served: its bytes, or a short-lived URL to them. */
export type Delivery = { kind: "stream"; stream: Readable } | { kind: "redirect"; url: string };

export type ObjectStorage = {
  readonly kind: "disk" | "s3";
  /** Moves the staged file at `path` into storage under `key`; the staged file is gone afterwards. */
  put(key: string, path: string, size: number, type: string): Promise<void>;
  /** The object's bytes or a presigned URL valid for `ttlSeconds` from `now`, with these response headers. */
  deliver(key: string, headers: { type: string; disposition: string }, now: number): Promise<Delivery>;
  delete(key: string): Promise<void>;
  /** Every stored object's key and last modification (for the sweep of objects without a row). */
  list(): AsyncIterable<{ key: string; modifiedMs: number }>;
  close(): void;
};

/** Lifetime of a presigned download URL: long enough to follow a redirect, too short to pass around. */
export const PRESIGNED_TTL_SECONDS = 60;

function checked(key: string): string {
  if (!KEY.test(key)) throw new Error("invalid storage key");
  return key;
}

/** Files under `root`, fanned out by the first two characters of the key. */
export function diskStorage(root: string): ObjectStorage {
  const pathOf = (key: string) => join(root, checked(key).slice(0, 2), key);
  return {
    kind: "disk",
    async put(key, path) {
      const target = pathOf(key);
      await mkdir(join(root, key.slice(0, 2)), { recursive: true, mode: 0o700 });
      // The staging directory is on the same file system: a rename, not a copy.
      await rename(path, target);
    },
    async deliver(key) {
      const path = pathOf(key);
      await stat(path);
      return { kind: "stream", stream: createReadStream(path) };
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    async *list() {
      const fans = await readdir(root).catch(() => [] as string[]);
      for (const fan of fans.filter((f) => /^[0-9a-f]{2}$/.test(f))) {
        const names = await readdir(join(root, fan)).catch(() => [] as string[]);
        for (const key of names.filter((n) => KEY.test(n) && n.startsWith(fan))) {
          const info = await stat(join(root, fan, key)).catch(() => undefined);
          if (info) yield { key, modifiedMs: info.mtimeMs };
        }
      }
    },
    close() {},
  };
}

export type S3Settings = {
  bucket: string;
  endpoint: string | undefined;
  region: string;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
};

/** The S3 SDK, loaded on first use: a disk deployment never loads it. */
async function loadSdk(settings: S3Settings) {
  const sdk = await import("@aws-sdk/client-s3");
  const { getSignedUrl } = await import("@aws-sdk/s3-request-presigner");
  const client: S3Client = new sdk.S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint, forcePathStyle: true } : {}),
    ...(settings.accessKeyId && settings.secretAccessKey
      ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }
      : {}),
    // Checksums only where S3 requires them: S3-compatible services do not all support the newer ones.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return { sdk, client, getSignedUrl };
}

/** Objects in an S3 bucket (or an S3-compatible service, path-style when an endpoint is given). */
export function s3Storage(settings: S3Settings): ObjectStorage {
  let loaded: ReturnType<typeof loadSdk> | undefined;
  const load = () => (loaded ??= loadSdk(settings));
  const Bucket = settings.bucket;
  return {
    kind: "s3",
    async put(key, path, size, type) {
      try {
        const { sdk, client } = await load();
        await client.send(
          new sdk.PutObjectCommand({
            Bucket,
            Key: checked(key),
            Body: createReadStream(path),
            ContentLength: size,
            ContentType: type,
          }),
        );
      } finally {
        await rm(path, { force: true });
      }
    },
    async deliver(key, headers, now) {
      const { sdk, client, getSignedUrl } = await load();
      // The bucket answers the presigned GET with these headers: an attachment of the sniffed type.
      const command = new sdk.GetObjectCommand({
        Bucket,
        Key: checked(key),
        ResponseContentType: headers.type,
        ResponseContentDisposition: headers.disposition,
      });
      const url = await getSignedUrl(client, command, { expiresIn: PRESIGNED_TTL_SECONDS, signingDate: new Date(now) });
      return { kind: "redirect", url };
    },
    async delete(key) {
      const { sdk, client } = await load();
      await client.send(new sdk.DeleteObjectCommand({ Bucket, Key: checked(key) }));
    },
    async *list() {
      const { sdk, client } = await load();
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(new sdk.ListObjectsV2Command({ Bucket, ContinuationToken }));
        for (const object of page.Contents ?? [])
          if (object.Key && KEY.test(object.Key))
            yield { key: object.Key, modifiedMs: object.LastModified?.getTime() ?? Date.now() };
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    },
    close() {
      void loaded?.then(({ client }) => client.destroy()).catch(() => undefined);
    },
  };
}
