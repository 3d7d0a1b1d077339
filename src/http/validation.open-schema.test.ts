// Attack: mass assignment — a body schema that lets unknown fields through (additionalProperties true, {} or unset), so a client sets fields (role, user_id) the route never meant to take.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Type } from "typebox";
import type { FastifyInstance } from "fastify";
import { startApp } from "../../test/harness.js";
import { assertClosedSchemas, openObjectIn } from "./validation.js";

const closed = { additionalProperties: false } as const;

const OPEN_SCHEMAS: Record<string, object> = {
  "additionalProperties unset": Type.Object({ name: Type.String() }),
  "additionalProperties: true": Type.Object({ name: Type.String() }, { additionalProperties: true }),
  "additionalProperties: {} (accepts anything)": {
    type: "object",
    properties: { name: { type: "string" } },
    additionalProperties: {},
  },
  "an open object nested in a closed one": Type.Object(
    { profile: Type.Object({ name: Type.String() }, { additionalProperties: true }) },
    closed,
  ),
  "an open object in an array": Type.Object(
    { items: Type.Array(Type.Object({ id: Type.String() }, { additionalProperties: true })) },
    closed,
  ),
};

for (const [what, schema] of Object.entries(OPEN_SCHEMAS)) {
  test(`registration refuses a body schema with ${what}`, async () => {
    assert.notEqual(openObjectIn(schema), undefined);
    await assert.rejects(
      startApp({
        extend: (app) => {
          app.post("/loose", { schema: { body: schema } }, async () => ({}));
        },
      }),
      /body schema at \$[.a-z]* must set additionalProperties: false/,
    );
  });

  test(`registration refuses a querystring schema with ${what}, even on a route with openBody`, () => {
    assert.throws(
      () =>
        assertClosedSchemas({ method: "GET", url: "/q", schema: { querystring: schema }, config: { openBody: true } }),
      /querystring schema/,
    );
  });
}

test("a schema-valued additionalProperties (a map with typed values) is a decision in the schema itself and is accepted", () => {
  assert.equal(openObjectIn({ type: "object", additionalProperties: { type: "string", maxLength: 10 } }), undefined);
});

test("config: { openBody: true } is the one way to take an open body, and the route then sees unknown fields", async () => {
  const t = await startApp({
    extend: (app: FastifyInstance) => {
      app.post(
        "/passthrough",
        {
          schema: { body: Type.Object({ name: Type.String() }, { additionalProperties: true }) },
          config: { auth: "public", rateLimit: "default", openBody: true },
        },
        async (req) => req.body,
      );
    },
  });
  try {
    const res = await t.app.inject({ method: "POST", url: "/passthrough", payload: { name: "a", extra: 1 } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { name: "a", extra: 1 });
  } finally {
    await t.close();
  }
});

test("no Bulwark route declares openBody today (each one added must be listed here, with its reason)", () => {
  const declared: string[] = [];
  for (const entry of readdirSync(new URL("..", import.meta.url).pathname, { recursive: true, withFileTypes: true })) {
    if (
      !entry.isFile() ||
      !entry.name.endsWith(".ts") ||
      entry.name.endsWith(".test.ts") ||
      entry.name === "types.ts" ||
      entry.name === "validation.ts"
    )
      continue;
    const file = join(entry.parentPath, entry.name);
    if (/openBody\s*:\s*true/.test(readFileSync(file, "utf8"))) declared.push(file);
  }
  assert.deepEqual(declared, []);
});
