import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { Type } from "typebox";
import { rowsOf } from "../store/db.js";
import { startApp, type TestApp } from "../../test/harness.js";

const Note = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 100 }),
    count: Type.Integer({ minimum: 0 }),
    tags: Type.Optional(Type.Array(Type.String(), { maxItems: 5 })),
  },
  { additionalProperties: false },
);

let t: TestApp;
before(async () => {
  t = await startApp({
    env: { MAX_BODY_BYTES: "2048", RATE_LIMIT_PER_MINUTE: "1000" },
    extend: async (app) => {
      await app.bulwark.store.db.execute(
        sql`create table if not exists test_notes (id serial primary key, title text not null)`,
      );
      app.post(
        "/notes",
        { schema: { body: Note }, config: { auth: "public", rateLimit: "default" } },
        async (req, reply) => {
          const body = req.body as { title: string };
          await app.bulwark.store.db.execute(sql`insert into test_notes (title) values (${body.title})`);
          return reply.code(201).send({ ok: true });
        },
      );
    },
  });
});
after(() => t.close());

async function noteCount(): Promise<number> {
  return Number(rowsOf<{ n: string }>(await t.store.db.execute(sql`select count(*) as n from test_notes`))[0]!.n);
}

function assertEnvelope(
  res: { statusCode: number; json(): any; headers: Record<string, unknown> },
  status: number,
  code: string,
): any {
  assert.equal(res.statusCode, status);
  const body = res.json();
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, "string");
  assert.equal(body.error.request_id, res.headers["x-request-id"]);
  return body.error;
}

test("bad input gets a clear error and changes nothing", async () => {
  const bad = [
    { what: "unknown field", payload: { title: "a", count: 1, role: "admin" }, path: "role", message: "unknown field" },
    { what: "wrong type", payload: { title: "a", count: "1" }, path: "count" },
    { what: "missing field", payload: { count: 1 }, path: "title", message: "is required" },
    { what: "nested wrong type", payload: { title: "a", count: 1, tags: [1] }, path: "tags.0" },
    { what: "empty string", payload: { title: "", count: 1 }, path: "title" },
    { what: "array body", payload: [1, 2], path: "body" },
    { what: "prototype pollution", payload: '{"title":"a","count":1,"__proto__":{"admin":true}}', path: undefined },
  ];
  for (const c of bad) {
    const res = await t.app.inject({
      method: "POST",
      url: "/notes",
      payload: c.payload as object,
      headers: { "content-type": "application/json" },
    });
    const error = assertEnvelope(res, 400, "invalid_request");
    if (c.path) {
      assert.equal(error.details?.[0]?.path, c.path, c.what);
      if (c.message) assert.equal(error.details[0].message, c.message, c.what);
      assert.ok(error.message.startsWith(`${c.path}:`), `${c.what}: message names the field`);
    }
  }
  assert.equal(await noteCount(), 0);
  const ok = await t.app.inject({ method: "POST", url: "/notes", payload: { title: "kept", count: 1 } });
  assert.equal(ok.statusCode, 201);
  assert.equal(await noteCount(), 1);
});

test("malformed JSON is a 400 that does not echo the parser's internals", async () => {
  const res = await t.app.inject({
    method: "POST",
    url: "/notes",
    payload: '{"title": "a",',
    headers: { "content-type": "application/json" },
  });
  const error = assertEnvelope(res, 400, "invalid_request");
  assert.equal(error.message, "body is not valid JSON");
});

test("a body over MAX_BODY_BYTES is 413 and changes nothing", async () => {
  const before = await noteCount();
  const res = await t.app.inject({ method: "POST", url: "/notes", payload: { title: "x".repeat(3000), count: 1 } });
  assertEnvelope(res, 413, "payload_too_large");
  assert.equal(await noteCount(), before);
});

test("a non-JSON content type is 415 and changes nothing", async () => {
  const before = await noteCount();
  for (const type of [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
  ]) {
    const res = await t.app.inject({
      method: "POST",
      url: "/notes",
      payload: "title=a&count=1",
      headers: { "content-type": type },
    });
    assertEnvelope(res, 415, "unsupported_media_type");
  }
  assert.equal(await noteCount(), before);
});

test("an unknown route or method is a 404 envelope", async () => {
  assertEnvelope(await t.app.inject({ method: "GET", url: "/nope" }), 404, "not_found");
  assertEnvelope(await t.app.inject({ method: "DELETE", url: "/health" }), 404, "not_found");
});

test("a route whose schema would accept unknown fields is refused at registration", async () => {
  await assert.rejects(
    startApp({
      extend: (app) => {
        app.post("/loose", { schema: { body: Type.Object({ a: Type.String() }) } }, async () => ({}));
      },
    }),
    /additionalProperties/,
  );
});
