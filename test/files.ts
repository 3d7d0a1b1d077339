// Helpers for the files tests: multipart bodies built by hand (so a test can send what a browser
// would not), images made with sharp, and a real S3-protocol server (s3rver) on 127.0.0.1.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import S3rver from "s3rver";
import sharp from "sharp";
import type { Env } from "../src/config/types.js";
import { bearer } from "./identity.js";

export type Part = { name: string; filename?: string; type?: string; data: Buffer | string };

const BOUNDARY = "----bulwark-test-boundary-7d1f";

/** A multipart/form-data body and its content type. */
export function multipart(parts: Part[]): { payload: Buffer; headers: Record<string, string> } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename}"`;
    head += "\r\n";
    if (part.type !== undefined) head += `Content-Type: ${part.type}\r\n`;
    chunks.push(
      Buffer.from(`${head}\r\n`, "utf8"),
      Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data),
      Buffer.from("\r\n"),
    );
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}` } };
}

/** Uploads one file as the user with this access token. */
export function upload(
  app: FastifyInstance,
  access: string | null,
  file: { name?: string; type?: string; data: Buffer | string; visibility?: string },
) {
  const parts: Part[] = [];
  if (file.visibility) parts.push({ name: "visibility", data: file.visibility });
  parts.push({
    name: "file",
    filename: file.name ?? "file.bin",
    type: file.type ?? "application/octet-stream",
    data: file.data,
  });
  const body = multipart(parts);
  return app.inject({
    method: "POST",
    url: "/api/files",
    headers: { ...body.headers, ...(access ? bearer(access) : {}) },
    payload: body.payload,
  });
}

/** A PNG of solid colour. */
export function png(width = 8, height = 8): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .png()
    .toBuffer();
}

/** Files below `dir`, relative, recursively. */
export function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
  } catch {
    return [];
  }
}

export type S3Server = { env: Env; directory: string; objects(): string[]; close(): Promise<void> };

/** A real S3-protocol server (s3rver, pure JS) on 127.0.0.1 with one bucket; `env` points Bulwark at it. */
export async function startS3(): Promise<S3Server> {
  const directory = mkdtempSync(join(tmpdir(), "bulwark-s3-"));
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: [{ name: "bulwark-files" }],
  });
  const { port } = (await server.run()) as { port: number };
  return {
    env: {
      S3_BUCKET: "bulwark-files",
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_REGION: "us-east-1",
      // s3rver's fixed development credentials.
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
    },
    directory,
    // s3rver keeps each object as `<key>._S3rver_object` under the bucket's directory.
    objects: () =>
      filesUnder(join(directory, "bulwark-files"))
        .filter((f) => f.endsWith("._S3rver_object"))
        .map((f) => f.replace(/\._S3rver_object$/, "")),
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
