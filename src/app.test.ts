import { test } from "node:test";
import { connect } from "node:net";
import assert from "node:assert/strict";
import { Type } from "typebox";
import { errors } from "./core/errors.js";
import type { Principal } from "./http/auth.js";
import { startApp, testStore } from "../test/harness.js";

/** A resolver as the identity modules will register: here, principals named by a test header. */
const PRINCIPALS: Record<string, Principal> = {
  "user-token": { type: "user", userId: "u1", role: "user", sessionId: "s1" },
  "admin-token": { type: "user", userId: "u2", role: "admin", sessionId: "s2" },
  "key-read": { type: "api_key", userId: "u1", keyId: "k1", role: "user", scopes: ["notes:read"] },
  "key-admin-owner-user": { type: "api_key", userId: "u1", keyId: "k2", role: "user", scopes: ["admin"] },
  "key-admin": { type: "api_key", userId: "u2", keyId: "k3", role: "admin", scopes: ["admin"] },
};

async function appWithRoutes() {
  return startApp({
    env: { RATE_LIMIT_PER_MINUTE: "1000" },
    extend: (app) => {
      app.bulwark.addAuthResolver(async (req) => {
        const token = req.headers.authorization?.replace(/^Bearer /, "");
        if (!token) return null;
        const principal = PRINCIPALS[token];
        if (!principal) throw errors.unauthorized("invalid token");
        return principal;
      });
      const Body = Type.Object({ text: Type.String({ maxLength: 100 }) }, { additionalProperties: false });
      app.post(
        "/api/notes",
        { schema: { body: Body }, config: { auth: "user", rateLimit: "sensitive", audit: "note.create" } },
        async (req) => ({ by: req.principal?.userId }),
      );
      app.get(
        "/api/notes",
        { config: { auth: { apiKey: "notes:read", user: true }, rateLimit: "default" } },
        async (req) => ({ type: req.principal?.type }),
      );
      app.get("/api/admin/thing", { config: { auth: "admin", rateLimit: "default" } }, async () => ({ ok: true }));
      app.get("/api/open", { config: { auth: "public", rateLimit: "default" } }, async (req) => ({
        principal: req.principal?.userId ?? null,
      }));
    },
  });
}

test("library mode: a route an app adds gets authentication, schema, rate limit, headers and audit of failures", async () => {
  const t = await appWithRoutes();
  try {
    const anonymous = await t.app.inject({ method: "POST", url: "/api/notes", payload: { text: "hi" } });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.json().error.code, "unauthorized");
    assert.match(String(anonymous.headers["www-authenticate"]), /^Bearer/);
    assert.equal(anonymous.headers["x-frame-options"], "DENY");

    const ok = await t.app.inject({
      method: "POST",
      url: "/api/notes",
      payload: { text: "hi" },
      headers: { authorization: "Bearer user-token" },
    });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { by: "u1" });
    assert.match(String(ok.headers["ratelimit-policy"]), /"sensitive";q=10;w=60/);

    const unknown = await t.app.inject({
      method: "POST",
      url: "/api/notes",
      payload: { text: "hi", owner: "u2" },
      headers: { authorization: "Bearer user-token" },
    });
    assert.equal(unknown.statusCode, 400);

    const bad = await t.app.inject({
      method: "POST",
      url: "/api/notes",
      payload: { text: "hi" },
      headers: { authorization: "Bearer forged" },
    });
    assert.equal(bad.statusCode, 401);

    const failures = (await t.app.bulwark.audit.query({ eventType: "note.create" })).events;
    assert.deepEqual(failures.map((e) => e.result).sort(), ["failure", "failure", "failure"]);
  } finally {
    await t.close();
  }
});

test("roles and scopes: users, admins and API keys each reach only what the route allows", async () => {
  const t = await appWithRoutes();
  try {
    const status = async (url: string, token?: string) =>
      (await t.app.inject({ method: "GET", url, headers: token ? { authorization: `Bearer ${token}` } : {} }))
        .statusCode;
    assert.equal(await status("/api/admin/thing", "user-token"), 403);
    assert.equal(await status("/api/admin/thing", "admin-token"), 200);
    assert.equal(await status("/api/admin/thing", "key-read"), 403);
    assert.equal(
      await status("/api/admin/thing", "key-admin-owner-user"),
      403,
      "the admin scope is not enough without an admin owner",
    );
    assert.equal(await status("/api/admin/thing", "key-admin"), 200);
    assert.equal(await status("/api/notes", "key-read"), 200);
    assert.equal(await status("/api/notes", "user-token"), 200);
    assert.equal(await status("/api/notes", "key-admin"), 403, "a key without the scope");
    assert.equal(
      (
        await t.app.inject({
          method: "POST",
          url: "/api/notes",
          payload: { text: "x" },
          headers: { authorization: "Bearer key-read" },
        })
      ).statusCode,
      403,
      "user-only route refuses keys",
    );
    // Bad credentials on a public route leave the caller anonymous rather than failing the request.
    const open = await t.app.inject({ method: "GET", url: "/api/open", headers: { authorization: "Bearer forged" } });
    assert.equal(open.statusCode, 200);
    assert.deepEqual(open.json(), { principal: null });
  } finally {
    await t.close();
  }
});

test("graceful shutdown: close() lets an in-flight request finish, refuses new connections, and answers a late request with the 503 envelope", async () => {
  const store = await testStore();
  let release: () => void = () => {};
  let entered: () => void = () => {};
  const slowStarted = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const t = await startApp({
    store,
    extend: (app) => {
      app.get("/slow", { config: { auth: "public", rateLimit: "default" } }, async () => {
        const done = new Promise<void>((resolve) => {
          release = resolve;
        });
        entered();
        await done;
        return { done: true };
      });
    },
  });
  try {
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = t.app.server.address() as { port: number };
    // One keep-alive connection: the slow request, then (while closing) a second one on the same socket.
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString();
    });
    socket.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    // Events, not sleeps: the handler is running...
    await slowStarted;
    // ...and the listening socket is closed (Fastify calls server.close() from its onClose hook).
    const server = t.app.server;
    const stoppedListening = new Promise<void>((resolve) => {
      const close = server.close.bind(server);
      server.close = ((callback?: (error?: Error) => void) => {
        const result = close(callback);
        resolve();
        return result;
      }) as typeof server.close;
    });
    const closing = t.app.close();
    await stoppedListening;
    assert.equal(server.listening, false);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health`), "new connections are refused while closing");
    // The late request on the open connection has reached the server (while closing) before the slow one finishes.
    const lateArrived = new Promise<void>((resolve) =>
      server.on("request", (req) => {
        if (req.url === "/health") resolve();
      }),
    );
    socket.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    await lateArrived;
    release();
    await closing;
    await new Promise((resolve) => socket.once("close", resolve));
    const responses = received.split(/(?=HTTP\/1\.1 )/);
    assert.match(responses[0] ?? "", /^HTTP\/1\.1 200[\s\S]*\{"done":true\}/, "the in-flight request finished");
    assert.match(responses[1] ?? "", /^HTTP\/1\.1 503/, "the late request got 503");
    assert.match(responses[1] ?? "", /"code":"service_unavailable"/);
    assert.match(responses[1] ?? "", /x-content-type-options: nosniff/i);
  } finally {
    await t.close();
    await store.close();
  }
});
