// Database errors as the rest of Bulwark needs to see them: whether one means "the database is not
// reachable" (an outage: answer 503 and retry) rather than "this query is wrong" (a bug: 500), and
// a copy fit for the log, without the values a query carried.

/** Socket-level codes of a connection that could not be made or was lost. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
]);

/**
 * SQLSTATEs of a server that is going away or not taking connections: 57P01 admin_shutdown (a
 * terminated backend, `pg_ctl stop -m fast`), 57P02 crash_shutdown, 57P03 cannot_connect_now
 * (starting up, shutting down, in recovery), 53300 too_many_connections. Class 08 is checked apart.
 */
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300"]);

/** What pg and pg-pool say when a connection died or could not be had in time (they set no code). */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
];

/** How deep a chain of causes is followed (drizzle wraps pg's error once; never loop forever). */
const MAX_CAUSES = 8;

/** The error and its causes (drizzle's DrizzleQueryError carries pg's error as `cause`), outermost first. */
function chain(error: unknown): unknown[] {
  const errors: unknown[] = [];
  for (
    let e = error;
    e !== null && e !== undefined && errors.length < MAX_CAUSES;
    e = (e as { cause?: unknown }).cause
  ) {
    if (errors.includes(e)) break;
    errors.push(e);
  }
  return errors;
}

/** True when `error` (or a cause of it) says the database cannot be reached now, rather than that a query failed. */
export function isDatabaseUnavailable(error: unknown): boolean {
  return chain(error).some((e) => {
    if (typeof e !== "object" || e === null) return false;
    const { code, message, errors } = e as { code?: unknown; message?: unknown; errors?: unknown };
    if (typeof code === "string") {
      if (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code)) return true;
      // Class 08: connection exceptions (08000, 08003, 08006, 08001, 08004, 08P01).
      if (code.length === 5 && code.startsWith("08")) return true;
    }
    if (typeof message === "string" && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))) return true;
    // Node reports a refused connection to every address of a name as an AggregateError.
    return Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner));
  });
}

/** Drizzle's message is `Failed query: <sql>\nparams: <values>`; the values are what must not be logged. */
const PARAMS = /\nparams: [\s\S]*?(?=\n {4}at |$)/g;

/** `text` with the values of a failed query (drizzle's `params:` part) replaced by `[redacted]`. */
export function scrubSqlParams(text: string): string {
  return text.includes("\nparams: ") ? text.replace(PARAMS, "\nparams: [redacted]") : text;
}

/**
 * PostgreSQL quotes the offending value after a colon: `invalid input syntax for type integer:
 * "erin@example.com"`, `invalid input value for enum …: "…"`, `date/time field value out of range:
 * "…"`. Identifiers are quoted without the colon (`relation "users"`, `constraint "users_email_key"`),
 * so they stay readable.
 */
const QUOTED_VALUE = /: "(?:[^"\\]|\\.|"")*"/g;

/** `text` with the values PostgreSQL quotes in its messages replaced by `[redacted]`. */
function scrubQuotedValues(text: string): string {
  return text.includes(': "') ? text.replace(QUOTED_VALUE, ': "[redacted]"') : text;
}

/** Fields of an error that may quote row values: drizzle's `params`, PostgreSQL's `detail` ("Key (email)=(…)"). */
const VALUE_FIELDS = new Set(["params", "detail", "where"]);

/** True when `error` or one of its causes could put the values of a query into a log line. */
export function carriesSqlValues(error: Error): boolean {
  return chain(error).some(
    (e) => e instanceof Error && (Object.keys(e).some((k) => VALUE_FIELDS.has(k)) || e.message.includes("\nparams: ")),
  );
}

/**
 * A copy of `error` to log: message, code, SQL text and the rest kept, query values dropped, causes
 * copied the same way. Why: a failed INSERT of a user carries its email and password hash.
 */
export function withoutSqlValues(error: Error, depth = 0): Error {
  const copy = new Error(scrubQuotedValues(scrubSqlParams(error.message)));
  copy.name = error.name;
  copy.stack = error.stack === undefined ? undefined : scrubQuotedValues(scrubSqlParams(error.stack));
  const fields = copy as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(error)) {
    if (VALUE_FIELDS.has(key) || key === "cause") continue;
    fields[key] = typeof value === "string" ? scrubQuotedValues(scrubSqlParams(value)) : value;
  }
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error && depth < MAX_CAUSES) copy.cause = withoutSqlValues(cause, depth + 1);
  // The log shows a cause's message but not its fields: lift the SQLSTATE to where it is seen.
  if (fields.code === undefined) {
    const code = chain(error)
      .map((e) => (e as { code?: unknown }).code)
      .find((c) => typeof c === "string");
    if (code !== undefined) fields.code = code;
  }
  // The copy must serialise under the original's class name (DrizzleQueryError, DatabaseError).
  Object.defineProperty(copy, "constructor", { value: error.constructor, enumerable: false });
  return copy;
}
