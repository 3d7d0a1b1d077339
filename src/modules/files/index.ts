// The files module's public surface: uploads streamed to disk or S3, checked by their bytes,
// images re-encoded, served as attachments. docs/files.md describes the pipeline.
import { defineModule } from "../module.js";
import { fileRoutes } from "./routes.js";
import { createFilesService, type FilesService } from "./service.js";

export { createFilesService, FILE_CSP, type FilesService, type FileView } from "./service.js";

declare module "../module.js" {
  interface Services {
    files: FilesService;
  }
}

const EVENTS = {
  "file.upload": {
    description:
      "A file was stored (its type, size, SHA-256 and visibility; never its bytes or name). Refusals are recorded with their status.",
  },
  "file.delete": { description: "A file was deleted by its owner (type, size, SHA-256)." },
} as const;

declare module "../audit/vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof EVENTS, true> {}
}

/** Files: streamed uploads with a per-user quota, sniffed types, re-encoded images, disk or S3. */
export const filesModule = defineModule({
  name: "files",
  needs: ["accounts"],
  create: ({ db, clock, audit, logger, config }, use) =>
    createFilesService({
      db,
      clock,
      audit,
      logger,
      accounts: use("accounts"),
      settings: config.files,
      dataDir: config.dataDir,
      publicUrl: config.publicUrl,
    }),
  routes: (app, files, _use, { config }) => fileRoutes(app, files, config.files.maxBytes),
  auditEvents: EVENTS,
  // A disabled owner's files stop being served: `find` checks the owner on every read (the
  // accounts module's cached look-up), so there is nothing to revoke here.
  prune: async (files) => ({ file_staging: await files.pruneStaging(), file_orphans: await files.pruneOrphans() }),
  stop: (files) => files.close(),
});
