// Files: the upload pipeline, listing, serving and deletion. Threat model, in the order the
// pipeline meets it:
// - memory exhaustion: bytes stream to a staging file and are counted as they arrive; the upload
//   stops at FILE_MAX_BYTES + 1 and the partial file is removed;
// - quota races: the stored size is reserved with one conditional update, in the transaction that
//   inserts the row (store.reserve), so concurrent uploads cannot pass FILE_QUOTA_BYTES together;
// - lying files: the type comes from the bytes; a declared type or extension that disagrees, or a
//   type not in FILE_ALLOWED_TYPES, is refused (415); SVG and HTML only when listed explicitly;
// - hostile images: re-encoded by sharp (pixel limit first, metadata dropped, orientation applied),
//   so the stored bytes are pixels only — no polyglot payload, no EXIF GPS;
// - paths: objects are stored under server-generated names; the client's name is display text;
// - serving: always an attachment with nosniff and a sandboxing CSP (routes.ts); private files to
//   their owner only (404 to anyone else, as if absent); nothing of a disabled owner is served;
// - malware: an optional clamd scan of the stored bytes, failing closed.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Config } from "../../config/types.js";
import type { Clock } from "../../core/clock.js";
import { AppError, errors } from "../../core/errors.js";
import { newId } from "../../core/ids.js";
import type { Logger } from "../../core/logger.js";
import type { Database } from "../../store/db.js";
import type { AccountService } from "../accounts/index.js";
import type { AuditService } from "../audit/index.js";
import { clamdScan } from "./clamd.js";
import { reencode } from "./images.js";
import { diskStorage, s3Storage, type Delivery, type ObjectStorage } from "./storage.js";
import * as store from "./store.js";
import type { FileRow } from "./store.js";
import { attachment, cleanName, disagreement, FILE_TYPES, sniff } from "./types.js";

export type FilesDeps = {
  db: Database;
  clock: Clock;
  audit: AuditService;
  logger: Logger;
  accounts: Pick<AccountService, "sessionUser">;
  settings: Config["files"];
  dataDir: string;
  publicUrl: string;
};

export type Visibility = "private" | "public";
export type FileView = {
  id: string;
  name: string;
  type: string;
  size: number;
  sha256: string;
  visibility: Visibility;
  url?: string;
  created_at: string;
};
/** Who performs a change, for the audit row. */
export type FileActor = { userId: string | null; keyId?: string | null; ip?: string | null; userAgent?: string | null };

/** An upload written to the staging directory: its path, size and SHA-256; `discard` removes what is left. */
export type Staged = { path: string; size: number; sha256: string; discard(): Promise<void> };

/** Headers every served file carries: a download, never a page; the CSP sandbox covers a browser that renders anyway. */
export const FILE_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";

/** Staging files older than this are leftovers of a crash; prune removes them. */
const STAGING_MAX_AGE_MS = 3_600_000;
/**
 * A stored object without a row, older than this, is the leftover of a process killed between
 * storing the bytes and committing the row (an upload takes seconds); prune removes it.
 */
const ORPHAN_MAX_AGE_MS = 3_600_000;

export type FilesService = ReturnType<typeof createFilesService>;

/** Builds the files service over disk storage under DATA_DIR/files, or S3 when a bucket is configured. */
export function createFilesService(deps: FilesDeps) {
  const { db, clock, audit, settings } = deps;
  const root = join(deps.dataDir, "files");
  // Staging is always local, on the disk storage's file system (a rename moves a file into place).
  const staging = join(root, ".staging");
  const storage: ObjectStorage = settings.s3 ? s3Storage(settings.s3) : diskStorage(root);

  const view = (row: FileRow): FileView => ({
    id: row.id,
    name: row.name,
    type: row.type,
    size: row.size,
    sha256: row.sha256,
    visibility: row.visibility,
    ...(row.visibility === "public" ? { url: `${deps.publicUrl}/api/files/${row.id}` } : {}),
    created_at: row.createdAt.toISOString(),
  });

  /** A fresh staging path: random, never derived from anything the client sent. */
  const stagingPath = async () => {
    await mkdir(staging, { recursive: true, mode: 0o700 });
    return join(staging, randomBytes(16).toString("hex"));
  };

  /** Hashes and measures a file already on disk. */
  const digest = async (path: string): Promise<{ size: number; sha256: string }> => {
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return { size: (await stat(path)).size, sha256: hash.digest("hex") };
  };

  return {
    storageKind: storage.kind,

    /** Bytes the user's files hold. */
    usage: (userId: string) => store.usage(db, userId),

    /**
     * Streams an upload to a staging file, hashing and counting as it goes; past FILE_MAX_BYTES
     * the stream is cut, the partial file removed and 413 raised. Memory use is one chunk.
     */
    async stage(source: Readable): Promise<Staged> {
      const path = await stagingPath();
      const discard = () => rm(path, { force: true });
      const hash = createHash("sha256");
      let size = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          size += chunk.length;
          if (size > settings.maxBytes)
            return done(new AppError("payload_too_large", `file is larger than ${settings.maxBytes} bytes`));
          hash.update(chunk);
          done(null, chunk);
        },
      });
      try {
        // `wx`: a staging name is never reused, so never opened twice.
        await pipeline(source, counter, createWriteStream(path, { flags: "wx", mode: 0o600 }));
      } catch (error) {
        await discard();
        throw error;
      }
      return { path, size, sha256: hash.digest("hex"), discard };
    },

    /** Checks, re-encodes, scans and stores a staged upload; the staged file is consumed either way. */
    async store(
      staged: Staged,
      input: {
        userId: string;
        name: string | undefined;
        declaredType: string | undefined;
        visibility: Visibility;
        actor: FileActor;
      },
    ): Promise<FileView> {
      const produced: string[] = [];
      try {
        if (staged.size === 0) throw errors.invalid("file is empty");
        const name = cleanName(input.name);
        const type = await sniff(staged.path);
        if (!settings.allowedTypes.includes(type))
          throw new AppError("unsupported_media_type", `files of type ${type} are not accepted`);
        const conflict = disagreement(type, input.declaredType, name);
        if (conflict) throw new AppError("unsupported_media_type", conflict);

        let path = staged.path;
        let { size, sha256 } = staged;
        if (FILE_TYPES[type]?.image) {
          path = await stagingPath();
          produced.push(path);
          await reencode(staged.path, path, type, settings.maxPixels);
          ({ size, sha256 } = await digest(path));
        }
        if (settings.clamdSocket) {
          const result = await clamdScan(settings.clamdSocket, path).catch((error: unknown) => {
            deps.logger.error(
              { err: error instanceof Error ? error.message : String(error) },
              "files: clamd scan failed",
            );
            throw new AppError("service_unavailable", "the malware scanner is unavailable; retry later");
          });
          if (!result.clean)
            deps.logger.warn({ signature: result.signature, user: input.userId }, "files: clamd refused an upload");
          if (!result.clean) throw new AppError("file_infected", "the malware scanner refused this file");
        }

        const now = new Date(clock.now());
        const row = {
          id: newId(now.getTime()),
          userId: input.userId,
          name,
          type,
          size,
          sha256,
          visibility: input.visibility,
          storageKey: randomBytes(16).toString("hex"),
          createdAt: now,
        } satisfies FileRow;
        await storage.put(row.storageKey, path, size, type);
        try {
          await db.transaction(async (tx) => {
            if (!(await store.reserve(tx, input.userId, size, settings.quotaBytes)))
              throw new AppError("payload_too_large", "storage quota exceeded");
            await store.insertFile(tx, row);
            await audit.record(
              {
                eventType: "file.upload",
                result: "success",
                actor: { userId: input.actor.userId, keyId: input.actor.keyId ?? null },
                ip: input.actor.ip ?? null,
                userAgent: input.actor.userAgent ?? null,
                target: row.id,
                metadata: { type, size, sha256, visibility: input.visibility },
              },
              tx,
            );
          });
        } catch (error) {
          // Nothing committed: the object must not outlive the refusal.
          await storage
            .delete(row.storageKey)
            .catch((e: unknown) => deps.logger.error({ err: String(e) }, "files: could not remove an object"));
          throw error;
        }
        return view(row);
      } finally {
        await staged.discard();
        for (const path of produced) await rm(path, { force: true });
      }
    },

    /** A user's files, newest first; `next_cursor` continues the listing. */
    async list(
      userId: string,
      cursor: string | undefined,
      limit: number,
    ): Promise<{ files: FileView[]; next_cursor: string | null }> {
      const rows = await store.listFiles(db, userId, cursor, limit + 1);
      const page = rows.slice(0, limit);
      return { files: page.map(view), next_cursor: rows.length > limit ? page[page.length - 1]!.id : null };
    },

    /**
     * The file `id` as `viewer` may see it: a public file to anyone, a private one to its owner;
     * anything else — absent, someone else's, or owned by a disabled account — is undefined (404).
     */
    async find(id: string, viewer: string | null): Promise<FileRow | undefined> {
      const row = await store.findFile(db, id);
      if (!row) return undefined;
      if (row.visibility !== "public" && row.userId !== viewer) return undefined;
      const owner = await deps.accounts.sessionUser(row.userId);
      return owner && !owner.disabled ? row : undefined;
    },

    /** The public view of a row. */
    view,
    /** The Content-Disposition of a file: always an attachment. */
    attachment,

    /** The bytes of a file the viewer may see, or a short-lived URL to them (S3). */
    deliver(row: FileRow): Promise<Delivery> {
      return storage.deliver(row.storageKey, { type: row.type, disposition: attachment(row.name) }, clock.now());
    },

    /** Deletes the user's file and its object; false when the user has no such file. */
    async remove(id: string, userId: string, actor: FileActor): Promise<boolean> {
      const row = await db.transaction(async (tx) => {
        const deleted = await store.deleteFile(tx, id, userId);
        if (!deleted) return undefined;
        await store.release(tx, userId, deleted.size);
        await audit.record(
          {
            eventType: "file.delete",
            result: "success",
            actor: { userId: actor.userId, keyId: actor.keyId ?? null },
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
            target: deleted.id,
            metadata: { type: deleted.type, size: deleted.size, sha256: deleted.sha256 },
          },
          tx,
        );
        return deleted;
      });
      if (!row) return false;
      // After the commit: an object whose deletion fails is an orphan (logged), never a row without bytes.
      await storage
        .delete(row.storageKey)
        .catch((e: unknown) =>
          deps.logger.error({ err: String(e), key: row.storageKey }, "files: could not remove an object"),
        );
      return true;
    },

    /** Removes stored objects that no row names, left by a crash between storing and committing; returns how many. */
    async pruneOrphans(): Promise<number> {
      let removed = 0;
      const sweep = async (keys: string[]) => {
        const kept = await store.keptKeys(db, keys);
        for (const key of keys.filter((k) => !kept.has(k))) {
          await storage.delete(key);
          removed++;
        }
      };
      let batch: string[] = [];
      for await (const object of storage.list()) {
        if (clock.now() - object.modifiedMs <= ORPHAN_MAX_AGE_MS) continue;
        batch.push(object.key);
        if (batch.length >= 500) {
          await sweep(batch);
          batch = [];
        }
      }
      await sweep(batch);
      return removed;
    },

    /** Removes staging files a crash left behind; returns how many. */
    async pruneStaging(): Promise<number> {
      let removed = 0;
      const names = await readdir(staging).catch(() => [] as string[]);
      for (const name of names) {
        const path = join(staging, name);
        const info = await stat(path).catch(() => undefined);
        if (info && clock.now() - info.mtimeMs > STAGING_MAX_AGE_MS) {
          await rm(path, { force: true });
          removed++;
        }
      }
      return removed;
    },

    close: () => storage.close(),
  };
}
