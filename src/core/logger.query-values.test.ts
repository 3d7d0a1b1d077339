// Attack: reading personal data or secrets out of the logs, where a failed database query would print the values it was given.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { sql } from "drizzle-orm";
import { captureLog, startApp } from "../../test/harness.js";
import { randomToken } from "./crypto/index.js";

test("a query failing in the real database logs its SQL, never its values nor the request's query string", async () => {
  const log = captureLog();
  const value = `erin-${randomToken(12)}@example.com`;
  const t = await startApp({
    log: log.stream,
    extend: (app) => {
      app.withTypeProvider<TypeBoxTypeProvider>().get(
        "/failing-query",
        {
          schema: {
            querystring: Type.Object({ email: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
          },
          config: { auth: "public", rateLimit: "default" },
        },
        async (req) => {
          // A bug: the value cannot be cast, so PostgreSQL refuses the query and the handler throws.
          await app.bulwark.db.execute(sql`select ${req.query.email}::int as n`);
          return { ok: true };
        },
      );
    },
  });
  try {
    const res = await t.app.inject({ method: "GET", url: `/failing-query?email=${encodeURIComponent(value)}` });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().error.message, "internal error");
    assert.equal(res.body.includes(value), false, "not in the response");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const text = log.text();
    assert.match(text, /unhandled error/, "the failure was logged");
    assert.match(text, /select \$1::int/, "with its SQL");
    assert.equal(
      text.includes(value),
      false,
      `the value reached the log: ${log.lines
        .filter((l) => l.includes(value))
        .join("\n")
        .slice(0, 1500)}`,
    );
    assert.equal(text.includes(value.slice(0, 10)), false, "part of the value reached the log");
  } finally {
    await t.close();
  }
});
