// One error handler: an AppError becomes the envelope of shared/API.md; Fastify's own errors are
// mapped to the same codes; anything else is logged and answered with a generic 500.
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { ErrorObject } from "ajv";
import { AppError, ERROR_CODES, type ErrorCode } from "../core/errors.js";
import { validationDetails } from "./validation.js";

/** Fastify error codes whose status is right but whose message we replace with our own. */
const FASTIFY_MESSAGES: Record<string, { code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: "request body is too large" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", message: "content type must be application/json" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "invalid_request", message: "content-length does not match the body" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "invalid_request", message: "body must not be empty when content-type is application/json" },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "invalid_request", message: "body is not valid JSON" },
};

const BY_STATUS: Record<number, ErrorCode> = {
  400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "not_found",
  409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 429: "rate_limited", 503: "service_unavailable",
};

export type ErrorResponse = { status: number; code: ErrorCode; message: string; details?: unknown; headers?: Record<string, string> };

/** Maps any thrown value to a safe response; `internal` is true when the error must be logged in full. */
export function describeError(error: unknown): ErrorResponse & { internal: boolean } {
  if (error instanceof AppError) {
    return { status: error.status, code: error.code, message: error.message, details: error.details, headers: error.headers, internal: false };
  }
  const e = error as Partial<FastifyError> & { validation?: ErrorObject[]; validationContext?: string };
  if (Array.isArray(e.validation)) {
    const details = validationDetails(e.validation, e.validationContext ?? "body");
    const first = details[0];
    const message = first ? `${first.path}: ${first.message}` : "request is invalid";
    return { status: 400, code: "invalid_request", message, details, internal: false };
  }
  const known = e.code ? FASTIFY_MESSAGES[e.code] : undefined;
  if (known) return { status: ERROR_CODES[known.code].status, ...known, internal: false };
  if (error instanceof SyntaxError && e.statusCode === 400) return { status: 400, code: "invalid_request", message: "body is not valid JSON", internal: false };
  const status = typeof e.statusCode === "number" ? e.statusCode : 500;
  const code = BY_STATUS[status];
  if (status < 500 && code) {
    // Fastify's 4xx messages describe the request, not the server; still, keep them short.
    return { status, code, message: (e.message ?? code).slice(0, 200), internal: false };
  }
  if (status === 503) return { status, code: "service_unavailable", message: "service unavailable; retry later", internal: false };
  return { status: 500, code: "internal_error", message: "internal error", internal: true };
}

/** Writes the error envelope; never a stack trace, SQL or secret. */
export function sendError(req: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const described = describeError(error);
  if (described.internal) req.log.error({ err: error, reqId: req.id }, "unhandled error");
  const body: Record<string, unknown> = { code: described.code, message: described.message };
  if (described.details) body.details = described.details;
  body.request_id = req.id;
  if (described.headers) reply.headers(described.headers);
  return reply.code(described.status).send({ error: body });
}
