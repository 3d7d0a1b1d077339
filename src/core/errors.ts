// The one error type of Bulwark: a stable code clients can switch on, an HTTP status and a safe message.

/** Every stable error code, its HTTP status and when it is used; docs/errors.md is checked against this table. */
export const ERROR_CODES = {
  invalid_request: {
    status: 400,
    when: "Schema or format violation; unknown fields are violations. `details` lists each problem.",
  },
  invalid_signature: { status: 400, when: "A webhook whose signature, timestamp or format is wrong." },
  unauthorized: { status: 401, when: "No or bad credentials. Sent with `WWW-Authenticate: Bearer`." },
  invalid_credentials: {
    status: 401,
    when: "Login failed, for every reason (unknown user, wrong password, disabled).",
  },
  token_reused: { status: 401, when: "A refresh token presented after it was rotated." },
  forbidden: { status: 403, when: "Authenticated but not allowed: role, scope, CSRF token or origin." },
  step_up_required: {
    status: 403,
    when: "The change needs a recent step-up: `POST /api/auth/step-up` with the password (or a code when two-factor is on), then retry within `STEP_UP_TTL` seconds.",
  },
  email_unverified: {
    status: 403,
    when: "The account's email address is not verified yet: API keys, two-factor and webhook endpoints need a proven address.",
  },
  not_found: { status: 404, when: "No such route or object, also for objects that exist but belong to someone else." },
  conflict: { status: 409, when: "Username or email taken." },
  too_many_keys: { status: 409, when: "The user already holds `API_KEYS_PER_USER` live API keys; revoke one first." },
  payload_too_large: {
    status: 413,
    when: "Body or file over its limit (`MAX_BODY_BYTES`, `FILE_MAX_BYTES`, `FILE_MAX_PIXELS`) or the storage quota (`FILE_QUOTA_BYTES`).",
  },
  headers_too_large: {
    status: 431,
    when: "Request headers past Node's limit (16 KiB in all), refused by the HTTP parser before routing.",
  },
  unsupported_media_type: {
    status: 415,
    when: "Wrong content type (JSON routes take only `application/json`), or a file whose bytes are not an allowed type.",
  },
  file_infected: {
    status: 422,
    when: "The malware scanner (clamd, `CLAMD_SOCKET`) found something in an uploaded file; nothing was stored.",
  },
  rate_limited: { status: 429, when: "A rate limit was exceeded. Sent with `Retry-After` in seconds." },
  internal_error: { status: 500, when: "Anything unexpected. The message is generic; details go to the log only." },
  bad_gateway: {
    status: 502,
    when: "Gateway mode: the upstream could not be reached, reset the connection or sent an invalid answer. Nothing of the cause is shown.",
  },
  gateway_timeout: { status: 504, when: "Gateway mode: the upstream did not answer within `UPSTREAM_TIMEOUT_MS`." },
  service_unavailable: {
    status: 503,
    when: "The server is shutting down or a dependency it needs is unavailable; retry later.",
  },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export type ErrorDetail = { path: string; message: string };

/** An error that is safe to show to the client: code, status and message end up in the response envelope. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: ErrorDetail[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options.details;
    this.headers = options.headers;
  }
}

/** Shorthand constructors for the errors every module raises. */
export const errors = {
  invalid: (message: string, details?: ErrorDetail[]) =>
    new AppError("invalid_request", message, details ? { details } : {}),
  unauthorized: (message = "authentication required") =>
    new AppError("unauthorized", message, { headers: { "www-authenticate": 'Bearer realm="bulwark"' } }),
  forbidden: (message = "not allowed") => new AppError("forbidden", message),
  emailUnverified: (what: string) => new AppError("email_unverified", `verify your email address before ${what}`),
  notFound: (message = "not found") => new AppError("not_found", message),
  conflict: (message: string) => new AppError("conflict", message),
  rateLimited: (retryAfter: number) =>
    new AppError("rate_limited", "too many requests; retry later", { headers: { "retry-after": String(retryAfter) } }),
};
