// The OpenAPI document is generated from the route registry: it validates as OpenAPI 3.1, every
// registered route (an application's own included) is in it, nothing else is, and each route's
// declared protections show as security requirements and extensions.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import SwaggerParser from "@apidevtools/swagger-parser";
import { Type } from "typebox";
import { startApp, type TestApp } from "../../../test/harness.js";

type Operation = {
  security?: Record<string, string[]>[];
  responses: Record<string, unknown>;
  "x-bulwark-rate-limit"?: unknown;
  "x-bulwark-audit"?: unknown;
};
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
};

let t: TestApp;
let doc: Document;

before(async () => {
  t = await startApp({
    // An application's own route, added to the returned app like a library user would.
    extend: (app) => {
      app.get(
        "/api/reports/:id",
        {
          schema: {
            params: Type.Object({ id: Type.String({ maxLength: 40 }) }, { additionalProperties: false }),
            response: { 200: Type.Object({ id: Type.String() }) },
          },
          config: { auth: { apiKey: "reports:read" }, rateLimit: "default" },
        },
        async (req) => ({ id: (req.params as { id: string }).id }),
      );
    },
  });
  const res = await t.app.inject({ method: "GET", url: "/openapi.json" });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers["content-type"]), /^application\/json/);
  doc = res.json();
});
after(() => t.close());

/** Fastify's `/api/files/:id` as OpenAPI writes it: `/api/files/{id}`. */
const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

test("/openapi.json is a valid OpenAPI 3.1 document", async () => {
  assert.equal(doc.openapi, "3.1.0");
  // The validator dereferences in place: give it a copy.
  await SwaggerParser.validate(structuredClone(doc) as never);
});

test("every registered route is in the document, and every documented operation is a registered route", () => {
  const registered = new Set(t.app.bulwark.routes().map((r) => `${r.method} ${openapiPath(r.url)}`));
  const documented = new Set(
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    ),
  );
  assert.ok(registered.has("GET /api/reports/{id}"), "the application's own route is in the registry");
  assert.deepEqual([...documented].sort(), [...registered].sort());
});

test("each route's auth shows as its security requirements", () => {
  assert.equal(doc.paths["/health"]!.get!.security, undefined, "public: no requirement");
  assert.deepEqual(doc.paths["/api/users/me"]!.get!.security, [{ bearer: [] }, { cookie: [] }]);
  assert.deepEqual(
    doc.paths["/api/users/me"]!.patch!.security,
    [{ bearer: [] }, { cookie: [], csrf: [] }],
    "an unsafe method in browser mode needs the CSRF header",
  );
  assert.deepEqual(doc.paths["/api/reports/{id}"]!.get!.security, [
    { bearer: ["reports:read"] },
    { apiKey: ["reports:read"] },
  ]);
  assert.deepEqual(doc.paths["/metrics"]!.get!.security, [{ metricsToken: [] }]);
  assert.deepEqual(doc.paths["/api/whoami"]!.get!.security?.[0], {}, "optional: anonymous is one alternative");
  for (const name of ["bearer", "apiKey", "cookie", "csrf", "metricsToken"])
    assert.ok(doc.components.securitySchemes[name], `scheme ${name}`);
});

test("each route carries its rate-limit class, audit event and the error envelope of the statuses it can answer", () => {
  const login = doc.paths["/api/auth/login"]!.post!;
  assert.equal(login["x-bulwark-rate-limit"], "auth-login");
  assert.equal(doc.paths["/health"]!.get!["x-bulwark-rate-limit"], "none");
  assert.equal(doc.paths["/api/keys"]!.post!["x-bulwark-audit"], "api_key.create");
  assert.deepEqual((login.responses["429"] as { content: unknown }).content, {
    "application/json": { schema: { $ref: "#/components/schemas/Error" } },
  });
  assert.ok(
    login.responses["400"] && !login.responses["401"] && !login.responses["403"],
    "a public route cannot answer 401/403 from the pipeline",
  );
  assert.ok(doc.paths["/api/admin/users"]!.get!.responses["403"], "an admin route can answer 403");
  assert.equal(doc.paths["/health"]!.get!.responses["429"], undefined, "an unlimited route is never rate limited");
});
