// Threat: a database outage answered as 500 internal_error and logged per request with its SQL, so
// clients do not retry and operators drown; a failed query's values (emails, hashes) in the error log.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { DrizzleQueryError } from "drizzle-orm/errors";
import pg from "pg";
import { Type } from "typebox";
import { captureLog, startApp, type TestApp } from "../../test/harness.js";

/** What drizzle throws when PostgreSQL terminates the connection of a query in flight. */
function terminated(): Error {
  const cause = new pg.DatabaseError("terminating connection due to administrator command", 0, "error");
  cause.code = "57P01";
  return new DrizzleQueryError("select * from users where email = $1", ["carol@example.com"], cause);
}

let t: TestApp;
const log = captureLog();
before(async () => {
  t = await startApp({
    log: log.stream,
    logLevel: "warn",
    env: { RATE_LIMIT_PER_MINUTE: "1000" },
    extend: async (app) => {
      await app.bulwark.store.db.execute(sql`create table if not exists test_emails (email text primary key)`);
      app.get("/outage", { config: { auth: "public", rateLimit: "default" } }, async () => {
        throw terminated();
      });
      app.post(
        "/emails",
        {
          schema: { body: Type.Object({}, { additionalProperties: false }) },
          config: { auth: "public", rateLimit: "default" },
        },
        async (_req, reply) => {
          const email = "dave@example.com";
          await app.bulwark.store.db.execute(sql`insert into test_emails (email) values (${email})`);
          return reply.code(201).send({ ok: true });
        },
      );
    },
  });
});
after(() => t.close());

const flush = () => new Promise((resolve) => setTimeout(resolve, 300));

test("a database outage is a 503 envelope with Retry-After, counted, and logged once per burst", async () => {
  const before = log.lines.length;
  for (let i = 0; i < 5; i++) {
    const res = await t.app.inject({ method: "GET", url: "/outage" });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().error.code, "service_unavailable");
    assert.equal(res.json().error.request_id, res.headers["x-request-id"]);
    assert.ok(Number(res.headers["retry-after"]) > 0, "Retry-After is set");
    assert.doesNotMatch(res.body, /terminating|select|carol/);
  }
  await flush();
  const lines = log.lines.slice(before).map((line) => JSON.parse(line) as { level: number; msg: string });
  assert.equal(lines.filter((l) => l.level >= 50).length, 0, "no error-level line for an outage");
  assert.equal(lines.filter((l) => l.msg.startsWith("database unavailable")).length, 1, "one warning for the burst");
  const metrics = await t.app.inject({
    method: "GET",
    url: "/metrics",
    headers: { authorization: `Bearer ${t.config.metricsToken}` },
  });
  assert.match(metrics.body, /^bulwark_database_unavailable_total 5$/m);
  assert.doesNotMatch(log.text(), /carol@example\.com/);
});

test("a failing query is still a 500, and its log line carries the code and SQL but not the values", async () => {
  assert.equal((await t.app.inject({ method: "POST", url: "/emails" })).statusCode, 201);
  const res = await t.app.inject({ method: "POST", url: "/emails" });
  assert.equal(res.statusCode, 500);
  assert.equal(res.json().error.code, "internal_error");
  await flush();
  const text = log.text();
  assert.match(text, /unhandled error/);
  assert.match(text, /insert into test_emails/, "the SQL text is kept for the investigation");
  assert.match(text, /23505/, "the SQLSTATE is kept");
  assert.doesNotMatch(text, /dave@example\.com/, "the query's values are not logged");
});
