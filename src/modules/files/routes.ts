// The files routes. Only the upload route's context parses multipart: `@fastify/multipart` is
// registered inside it, so every other route of the app stays JSON-only.
import multipart from "@fastify/multipart";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError, errors } from "../../core/errors.js";
import { NoBody } from "../../http/schemas.js";
import { requestActor } from "../audit/index.js";
import { FilePage, FileParams, FileView, GetQuery, ListQuery } from "./schema.js";
import { FILE_CSP, type FileActor, type FilesService, type Staged, type Visibility } from "./service.js";

/** Multipart framing around the file: boundaries, part headers, the visibility field. */
const MULTIPART_OVERHEAD = 16 * 1024;

function actorOf(req: FastifyRequest): FileActor {
  const { actor, ip, userAgent } = requestActor(req);
  return { userId: actor.userId, keyId: actor.keyId, ip, userAgent };
}

/** @fastify/multipart's limit errors as our envelope: one file, one field, short values. */
function multipartError(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  if (code === "FST_FILES_LIMIT") return errors.invalid("one file per request");
  if (code === "FST_PARTS_LIMIT" || code === "FST_FIELDS_LIMIT")
    return errors.invalid("too many parts: send the field `file` and optionally `visibility`");
  if (code === "FST_PROTO_VIOLATION") return errors.invalid("invalid field name");
  // busboy's words for a body or a header it cannot read (no boundary in the content type, a part
  // cut short); anything else is a real fault and stays one.
  if (error instanceof Error && /terminated early|Unexpected end|Malformed|Boundary not found/i.test(error.message))
    return errors.invalid("malformed multipart body");
  return error;
}

/** The upload route, in a context of its own. */
async function uploadRoute(
  app: FastifyInstance,
  { files, maxBytes }: { files: FilesService; maxBytes: number },
): Promise<void> {
  await app.register(multipart, {
    // One byte more than allowed: the service's own count sees the excess and answers 413.
    limits: {
      files: 1,
      fields: 1,
      parts: 2,
      fileSize: maxBytes + 1,
      fieldNameSize: 64,
      fieldSize: 16,
      headerPairs: 16,
    },
    throwFileSizeLimit: false,
  });

  // `auth`: a signed-in user or an API key with `files:write`. `multipart: true` stands for the
  // body schema: the handler checks each part (one `file`, one optional `visibility`).
  app.post(
    "/api/files",
    {
      schema: { response: { 201: FileView } },
      config: {
        auth: { apiKey: "files:write", user: true },
        rateLimit: "sensitive",
        audit: "file.upload",
        multipart: true,
      },
    },
    async (req, reply) => {
      if (!req.isMultipart())
        throw new AppError("unsupported_media_type", "send multipart/form-data with the file in the field `file`");
      // A declared length already past the limit is refused before a byte is read.
      const declared = Number(req.headers["content-length"] ?? Number.NaN);
      if (declared > maxBytes + MULTIPART_OVERHEAD)
        throw new AppError("payload_too_large", `file is larger than ${maxBytes} bytes`);
      const userId = req.principal!.userId;

      let staged: Staged | undefined;
      let meta: { name: string; declaredType: string } | undefined;
      let visibility: Visibility = "private";
      try {
        try {
          for await (const part of req.parts()) {
            if (part.type === "file") {
              if (part.fieldname !== "file") throw errors.invalid("the file goes in the field `file`");
              meta = { name: part.filename, declaredType: part.mimetype };
              staged = await files.stage(part.file);
            } else if (part.fieldname === "visibility" && (part.value === "private" || part.value === "public")) {
              visibility = part.value;
            } else {
              throw errors.invalid("unknown field: only `file` and `visibility` (private or public) are accepted");
            }
          }
        } catch (error) {
          throw multipartError(error);
        }
        if (!staged || !meta) throw errors.invalid("no file: send it in the multipart field `file`");
        const view = await files.store(staged, {
          userId,
          name: meta.name,
          declaredType: meta.declaredType,
          visibility,
          actor: actorOf(req),
        });
        staged = undefined;
        return reply.code(201).send(view);
      } finally {
        await staged?.discard();
      }
    },
  );
}

/** Sends a file: always as an attachment, never sniffed, under a sandboxing CSP. */
async function sendFile(
  files: FilesService,
  row: NonNullable<Awaited<ReturnType<FilesService["find"]>>>,
  reply: FastifyReply,
) {
  const delivery = await files.deliver(row);
  if (delivery.kind === "redirect") return reply.code(302).header("location", delivery.url).send();
  const type = row.type.startsWith("text/") ? `${row.type}; charset=utf-8` : row.type;
  return reply
    .header("content-type", type)
    .header("content-length", String(row.size))
    .header("content-disposition", files.attachment(row.name))
    .header("content-security-policy", FILE_CSP)
    .header("x-content-type-options", "nosniff")
    .send(delivery.stream);
}

/** Registers the files routes. */
export async function fileRoutes(app: FastifyInstance, files: FilesService, maxBytes: number): Promise<void> {
  await app.register(uploadRoute, { files, maxBytes });
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/api/files",
    {
      schema: { querystring: ListQuery, response: { 200: FilePage } },
      config: { auth: { apiKey: "files:read", user: true }, rateLimit: "default" },
    },
    async (req) => files.list(req.principal!.userId, req.query.cursor, req.query.limit ?? 50),
  );

  // `optional`: a public file is readable without credentials; a private one only by its owner.
  // Anyone else gets the 404 of a file that does not exist.
  r.get(
    "/api/files/:id",
    {
      schema: { params: FileParams, querystring: GetQuery },
      config: { auth: "optional", rateLimit: "default" },
    },
    async (req, reply) => {
      // An API key reads its owner's private files only with the `files:read` scope.
      const p = req.principal;
      const viewer = p && (p.type !== "api_key" || (p.scopes ?? []).includes("files:read")) ? p.userId : null;
      const row = await files.find(req.params.id, viewer);
      if (!row) throw errors.notFound("no such file");
      if (req.query.meta === "1") return reply.send(files.view(row));
      return sendFile(files, row, reply);
    },
  );

  r.delete(
    "/api/files/:id",
    {
      schema: { params: FileParams, body: NoBody },
      config: { auth: { apiKey: "files:write", user: true }, rateLimit: "default", audit: "file.delete" },
    },
    async (req, reply) => {
      if (!(await files.remove(req.params.id, req.principal!.userId, actorOf(req))))
        throw errors.notFound("no such file");
      return reply.code(204).send();
    },
  );
}
