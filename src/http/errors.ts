// One error handler: an AppError becomes the envelope of docs/errors.md; Fastify's own errors are
// mapped to the same codes; a database that cannot be reached is a 503 to retry; anything else is
// logged and answered with a generic 500.
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { ErrorObject } from "ajv";
import { isDatabaseUnavailable } from "../core/db-errors.js";
import { AppError, ERROR_CODES, type ErrorCode } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { validationDetails } from "./validation.js";

/** Fastify error codes whose status is right but whose message we replace with our own. */
const FASTIFY_MESSAGES: Record<string, { code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: "request body is too large" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", message: "content type must be application/json" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "invalid_request", message: "content-length does not match the body" },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: "invalid_request",
    message: "body must not be empty when content-type is application/json",
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "invalid_request", message: "body is not valid JSON" },
  // The router's own limit (routerOptions.maxParamLength); Fastify answers 414, which has no code here.
  FST_ERR_MAX_PARAM_LENGTH: { code: "invalid_request", message: "a path parameter is too long" },
};

const BY_STATUS: Record<number, ErrorCode> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "not_found",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
  503: "service_unavailable",
};

export type ErrorResponse = {
  status: number;
  code: ErrorCode;
  message: string;
  details?: unknown;
  headers?: Record<string, string>;
};

/** Seconds a client is asked to wait when the database is away: a restart or failover takes a few. */
export const DATABASE_RETRY_AFTER = 5;

/** Maps any thrown value to a safe response; `internal` is true when the error must be logged in full. */
export function describeError(error: unknown): ErrorResponse & { internal: boolean; outage?: true } {
  // An outage is not a bug: the request may succeed on retry (here once the pool reconnects, or on
  // another instance), so it is a 503 with Retry-After, and the balancer sees the same on /ready.
  if (isDatabaseUnavailable(error)) {
    return {
      status: 503,
      code: "service_unavailable",
      message: "database unavailable; retry later",
      headers: { "retry-after": String(DATABASE_RETRY_AFTER) },
      internal: false,
      outage: true,
    };
  }
  if (error instanceof AppError) {
    return {
      status: error.status,
      code: error.code,
      message: error.message,
      details: error.details,
      headers: error.headers,
      internal: false,
    };
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
  if (error instanceof SyntaxError && e.statusCode === 400)
    return { status: 400, code: "invalid_request", message: "body is not valid JSON", internal: false };
  const status = typeof e.statusCode === "number" ? e.statusCode : 500;
  const code = BY_STATUS[status];
  if (status < 500 && code) {
    // Fastify's 4xx messages describe the request, not the server; still, keep them short.
    return { status, code, message: (e.message ?? code).slice(0, 200), internal: false };
  }
  // Any other refusal Fastify raises (411, 414, 431…) is still the client's: a 400, never a 500.
  if (status >= 400 && status < 500)
    return { status: 400, code: "invalid_request", message: "request is invalid", internal: false };
  if (status === 503)
    return { status, code: "service_unavailable", message: "service unavailable; retry later", internal: false };
  return { status: 500, code: "internal_error", message: "internal error", internal: true };
}

/** Counts the requests an outage refused, and logs it once per burst instead of once per request. */
export type OutageReporter = (error: unknown) => void;

/** How long one warning stands for the refusals that follow it. */
const OUTAGE_LOG_INTERVAL_MS = 10_000;

/** An OutageReporter logging at most one warning every 10 s, with the count of refusals since the last one. */
export function outageReporter(counter: { inc(): void }, log: Logger): OutageReporter {
  let lastLogged = 0;
  let refused = 0;
  return (error) => {
    counter.inc();
    refused++;
    const now = Date.now();
    if (now - lastLogged < OUTAGE_LOG_INTERVAL_MS) return;
    lastLogged = now;
    const cause = error instanceof Error ? error : new Error(String(error));
    // The message only: the SQL of whichever request came first says nothing about the outage.
    log.warn({ err: innermostMessage(cause), refused }, "database unavailable: answering 503 until it is back");
    refused = 0;
  };
}

/** The message of the deepest cause (pg's own error under drizzle's wrapper). */
function innermostMessage(error: Error): string {
  let e: unknown = error;
  for (let depth = 0; depth < 8 && (e as { cause?: unknown }).cause instanceof Error; depth++)
    e = (e as { cause: Error }).cause;
  const { code, message } = e as { code?: unknown; message: string };
  return typeof code === "string" ? `${code}: ${message}` : message;
}

/** Writes the error envelope; never a stack trace, SQL or secret. */
export function sendError(
  req: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  onOutage?: OutageReporter,
): FastifyReply {
  const described = describeError(error);
  if (described.internal) req.log.error({ err: error, reqId: req.id }, "unhandled error");
  if (described.outage) {
    if (onOutage) onOutage(error);
    else req.log.warn({ reqId: req.id }, "database unavailable: answered 503");
  }
  const body: Record<string, unknown> = { code: described.code, message: described.message };
  if (described.details) body.details = described.details;
  body.request_id = req.id;
  if (described.headers) reply.headers(described.headers);
  return reply.code(described.status).send({ error: body });
}
