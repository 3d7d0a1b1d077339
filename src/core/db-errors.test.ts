// Threat: a database outage reported as a bug (500, paged as an error) or a bug hidden as an outage
// (503, retried forever); and the values of a failed query (emails, password hashes) copied into logs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DrizzleQueryError } from "drizzle-orm/errors";
import pg from "pg";
import { isDatabaseUnavailable, withoutSqlValues } from "./db-errors.js";

/** An error as pg builds it from a server's ErrorResponse. */
function serverError(code: string, message: string, detail?: string): pg.DatabaseError {
  const error = new pg.DatabaseError(message, 0, "error");
  error.code = code;
  error.severity = "FATAL";
  if (detail) error.detail = detail;
  return error;
}

const wrapped = (cause: Error) =>
  new DrizzleQueryError(
    "insert into users (email, password_hash) values ($1, $2)",
    ["alice@example.com", "$argon2id$v=19$secret"],
    cause,
  );

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

test("connection-class failures are outages, wrapped by drizzle or not", () => {
  const outages: Error[] = [
    withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"),
    withCode("read ECONNRESET", "ECONNRESET"),
    serverError("57P01", "terminating connection due to administrator command"),
    serverError("57P02", "terminating connection because of crash of another server process"),
    serverError("57P03", "the database system is starting up"),
    serverError("08006", "connection failure"),
    serverError("53300", "sorry, too many clients already"),
    new Error("Connection terminated unexpectedly"),
    new Error("Connection terminated due to connection timeout"),
    new Error("timeout exceeded when trying to connect"),
    new Error("Client has encountered a connection error and is not queryable"),
    new AggregateError([withCode("connect ECONNREFUSED ::1:5432", "ECONNREFUSED")], "connect failed"),
  ];
  for (const error of outages) {
    assert.equal(isDatabaseUnavailable(error), true, error.message);
    assert.equal(isDatabaseUnavailable(wrapped(error)), true, `wrapped: ${error.message}`);
  }
});

test("query failures stay errors: a constraint, a missing table, a statement timeout, a bug", () => {
  const bugs: unknown[] = [
    serverError("23505", 'duplicate key value violates unique constraint "users_email_key"'),
    serverError("42P01", 'relation "nope" does not exist'),
    serverError("57014", "canceling statement due to statement timeout"),
    new TypeError("cannot read properties of undefined"),
    "a string",
    null,
  ];
  for (const error of bugs) {
    assert.equal(isDatabaseUnavailable(error), false, String(error));
    if (error instanceof Error) assert.equal(isDatabaseUnavailable(wrapped(error)), false, `wrapped: ${error.message}`);
  }
});

test("a cause chain that loops ends", () => {
  const a = new Error("a") as Error & { cause?: unknown };
  const b = new Error("b", { cause: a });
  a.cause = b;
  assert.equal(isDatabaseUnavailable(a), false);
});

test("the log copy of a failed query keeps the SQL and the codes, never the values", () => {
  const cause = serverError(
    "23505",
    'duplicate key value violates unique constraint "users_email_key"',
    "Key (email)=(alice@example.com) already exists.",
  );
  const copy = withoutSqlValues(wrapped(cause));
  const text = `${copy.message}\n${copy.stack}\n${JSON.stringify(copy)}\n${JSON.stringify(copy.cause)}`;
  assert.doesNotMatch(text, /alice@example\.com|argon2/);
  assert.match(copy.message, /^Failed query: insert into users/);
  assert.equal(copy.constructor, DrizzleQueryError);
  const inner = copy.cause as { code?: string; message: string };
  assert.equal(inner.code, "23505");
  assert.match(inner.message, /duplicate key/);
});
