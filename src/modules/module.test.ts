// The module contract and the route declarations it enforces: modules start in dependency order,
// a cycle or a missing module stops the start, and a route that does not declare its protections
// is refused when it is registered rather than left open.
import assert from "node:assert/strict";
import { test } from "node:test";
import { sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { startApp } from "../../test/harness.js";
import { bearer, signedIn } from "../../test/identity.js";
import { rowsOf } from "../store/db.js";
import { MODULES } from "./index.js";
import { orderModules, type AnyModule } from "./module.js";

const stub = (name: string, needs: string[]) => ({ name, needs, create: () => undefined }) as unknown as AnyModule;

test("modules start after what they need, whatever the order of the list", () => {
  const order = orderModules([stub("c", ["b"]), stub("a", []), stub("b", ["a"])]).map((m) => m.name);
  assert.deepEqual(order, ["a", "b", "c"]);
  const real = orderModules(MODULES).map((m) => m.name as string);
  for (const module of MODULES) {
    for (const need of module.needs)
      assert.ok(real.indexOf(need) < real.indexOf(module.name), `${module.name} starts after ${need}`);
  }
});

test("a dependency cycle stops the start and names the cycle", () => {
  assert.throws(
    () => orderModules([stub("a", ["b"]), stub("b", ["c"]), stub("c", ["a"])]),
    /dependency cycle a -> b -> c -> a/,
  );
  assert.throws(() => orderModules([stub("a", ["ghost"])]), /a needs ghost, which is not in the module list/);
  assert.throws(() => orderModules([stub("a", []), stub("a", [])]), /appears twice/);
});

// Each a route an app might add by mistake: every one must be refused at registration.
const undeclared: [string, (app: FastifyInstance) => void, RegExp][] = [
  [
    "no auth",
    (app) => app.get("/x", { config: { rateLimit: "default" } }, async () => ({})),
    /config\.auth is required/,
  ],
  [
    "no rate limit",
    (app) => app.get("/x", { config: { auth: "public" } }, async () => ({})),
    /config\.rateLimit is required/,
  ],
  [
    "an unknown rate-limit class",
    (app) => app.get("/x", { config: { auth: "public", rateLimit: "generous" as "default" } }, async () => ({})),
    /is not one of/,
  ],
  [
    "an unknown auth value",
    (app) => app.get("/x", { config: { auth: "anyone" as "public", rateLimit: "default" } }, async () => ({})),
    /config\.auth "anyone"/,
  ],
  [
    "an undeclared audit event",
    (app) => app.get("/x", { config: { auth: "user", rateLimit: "default", audit: "x.made_up" } }, async () => ({})),
    /not a declared audit event type/,
  ],
  [
    "a write without a body schema",
    (app) => app.post("/x", { config: { auth: "user", rateLimit: "default" } }, async () => ({})),
    /needs a body schema/,
  ],
];

for (const [what, add, message] of undeclared) {
  test(`undeclared protections: a route with ${what} is refused at registration`, async () => {
    await assert.rejects(startApp({ extend: add }), message);
  });
}

test("mass assignment on a body-less write: POST /api/auth/logout with junk is 400 and the session lives on", async () => {
  const t = await startApp();
  try {
    const user = await signedIn(t.app);
    const junk = await t.app.inject({
      method: "POST",
      url: "/api/auth/logout",
      headers: bearer(user.access),
      payload: { role: "admin" },
    });
    assert.equal(junk.statusCode, 400);
    assert.equal(junk.json().error.details[0].message, "unknown field");
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(user.access) })).statusCode,
      200,
      "nothing changed",
    );
    // No body at all is the empty object: the ordinary logout still works.
    assert.equal(
      (await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: bearer(user.access) })).statusCode,
      204,
    );
  } finally {
    await t.close();
  }
});

test("credential stuffing through unlimited routes: /health and /ready never resolve credentials", async () => {
  let calls = 0;
  const t = await startApp({
    extend: (app) =>
      app.bulwark.addAuthResolver(async () => {
        calls++;
        return null;
      }),
  });
  try {
    const headers = { authorization: "Bearer made-up" };
    assert.equal((await t.app.inject({ method: "GET", url: "/health", headers })).statusCode, 200);
    assert.equal((await t.app.inject({ method: "GET", url: "/ready", headers })).statusCode, 200);
    assert.equal(calls, 0, "no resolver ran for a route without limits");
    assert.equal((await t.app.inject({ method: "GET", url: "/api/whoami", headers })).statusCode, 401);
    assert.equal(calls, 1, "a limited route resolves (the resolver exists and is reached)");
  } finally {
    await t.close();
  }
});

test("key rotation cannot miss a column: every module's encrypted column exists in the schema", async () => {
  const t = await startApp();
  try {
    const declared = MODULES.flatMap((m) => m.encryptedColumns ?? []);
    assert.ok(declared.length >= 3, "tokens, mfa and webhooks declare theirs");
    for (const column of declared) {
      const found = rowsOf(
        await t.store.db.execute(
          sql`select 1 from information_schema.columns where table_name = ${column.table} and column_name in (${column.id}, ${column.column})`,
        ),
      );
      assert.equal(found.length, 2, `${column.table}.${column.column} (keyed by ${column.id}) exists`);
    }
  } finally {
    await t.close();
  }
});

test("the module list is the app: every module's routes are registered and every route names a declared audit event", async () => {
  const t = await startApp({
    extend: (app) => {
      app.post(
        "/api/things",
        {
          schema: { body: Type.Object({}, { additionalProperties: false }) },
          config: { auth: "user", rateLimit: "default", audit: "thing.create" },
        },
        async () => ({}),
      );
    },
  });
  try {
    const routes = t.app.bulwark.routes();
    assert.ok(
      routes.some((r) => r.url === "/api/things"),
      "a library route is in the registry too",
    );
    const vocabulary = t.app.bulwark.audit.vocabulary();
    for (const route of routes)
      if (route.audit) assert.ok(vocabulary.has(route.audit), `${route.url} names a declared event`);
  } finally {
    await t.close();
  }
});
