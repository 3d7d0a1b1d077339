// Gateway mode against a real Node upstream on a real socket: the rules' protections, the identity
// the upstream receives, the headers on the way back, and upstream failures as envelopes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { bearer, signedIn, stepUp } from "../../../test/identity.js";
import { startGateway, startUpstream, type Upstream } from "../../../test/gateway.js";
import type { TestApp } from "../../../test/harness.js";
import { IDENTITY_HEADERS, signIdentity } from "./identity.js";

let upstream: Upstream;
let t: TestApp & { base: string; secret: string };

before(async () => {
  upstream = await startUpstream();
  t = await startGateway(upstream, { env: { UPSTREAM_TIMEOUT_MS: "300", ADMIN_EMAILS: "" } });
});
after(async () => {
  await t.close();
  await upstream.close();
});

const get = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
  fetch(`${t.base}${path}`, { headers, ...init });
const lastSeen = () => upstream.seen.at(-1)!;

test("a public rule reaches the upstream with a signed anonymous identity and the request id", async () => {
  const res = await get("/public/items?page=2", { "x-request-id": "trace-abcdef12" });
  assert.equal(res.status, 200);
  const seen = (await res.json()) as { url: string; headers: Record<string, string> };
  assert.equal(seen.url, "/public/items?page=2");
  assert.equal(seen.headers["x-bulwark-user"], "");
  assert.equal(seen.headers["x-bulwark-request-id"], "trace-abcdef12");
  assert.equal(seen.headers["x-request-id"], "trace-abcdef12");
  assert.equal(res.headers.get("x-request-id"), "trace-abcdef12");
  const values = Object.fromEntries(IDENTITY_HEADERS.map((h) => [h, seen.headers[h] ?? ""])) as Record<
    (typeof IDENTITY_HEADERS)[number],
    string
  >;
  assert.equal(
    seen.headers["x-bulwark-signature"],
    signIdentity(t.secret, "GET", "/public/items?page=2", seen.headers["x-bulwark-timestamp"]!, values),
  );
});

test("a user rule refuses anonymous callers with the envelope and passes signed-in users with their id", async () => {
  const refused = await get("/app/orders");
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "unauthorized");
  const before = upstream.seen.length;
  const user = await signedIn(t.app);
  const res = await get("/app/orders", bearer(user.access));
  assert.equal(res.status, 200);
  assert.equal(upstream.seen.length, before + 1, "only the signed-in request reached the upstream");
  assert.equal(lastSeen().headers["x-bulwark-user"], user.userId);
  assert.equal(lastSeen().headers["x-bulwark-role"], "user");
  // Bulwark's credential ends at Bulwark.
  assert.equal(lastSeen().headers.authorization, undefined);
});

test("an admin rule refuses a plain user", async () => {
  const user = await signedIn(t.app);
  const res = await get("/app/admin/stats", bearer(user.access));
  assert.equal(res.status, 403);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, "forbidden");
});

test("an API-key rule passes a key with the scope, with its id and scopes, and refuses one without", async () => {
  const user = await signedIn(t.app);
  const make = async (scopes: string[]) => {
    await stepUp(t.app, user);
    const res = await t.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: bearer(user.access),
      payload: { name: `k${scopes.length}`, scopes },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as { id: string; key: string };
  };
  const good = await make(["reports:read"]);
  const res = await get("/reports/monthly", { "x-api-key": good.key });
  assert.equal(res.status, 200);
  assert.equal(lastSeen().headers["x-bulwark-key"], good.id);
  assert.equal(lastSeen().headers["x-bulwark-scopes"], "reports:read");
  assert.equal(lastSeen().headers["x-api-key"], undefined);
  const other = await make(["files:read", "other:x"]);
  assert.equal((await get("/reports/monthly", { "x-api-key": other.key })).status, 403);
});

test("body limit: a declared or streamed body past the rule's limit gets 413; a wrong type gets 415", async () => {
  const user = await signedIn(t.app);
  const headers = { ...bearer(user.access), "content-type": "application/json" };
  const big = await get("/app/orders", headers, { method: "POST", body: JSON.stringify({ x: "a".repeat(2000) }) });
  assert.equal(big.status, 413);
  assert.equal(((await big.json()) as { error: { code: string } }).error.code, "payload_too_large");
  // Chunked, so no Content-Length tells the size in advance: counted while it streams.
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(`{"x":"${"b".repeat(3000)}"}`));
      c.close();
    },
  });
  const chunked = await get("/app/orders", headers, { method: "POST", body: stream, duplex: "half" } as RequestInit);
  assert.equal(chunked.status, 413);
  const xml = await get(
    "/app/orders",
    { ...bearer(user.access), "content-type": "application/xml" },
    { method: "POST", body: "<a/>" },
  );
  assert.equal(xml.status, 415);
  const ok = await get(
    "/app/orders",
    { ...bearer(user.access), "content-type": "text/csv" },
    { method: "POST", body: "a,b\n1,2\n" },
  );
  assert.equal(ok.status, 200);
  assert.equal(lastSeen().body, "a,b\n1,2\n");
});

test("the upstream's own errors pass through untouched", async () => {
  const res = await get("/public/fail");
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), { detail: "upstream's own error" });
  assert.equal(res.headers.get("x-upstream"), "own");
});

test("the upstream's conflicting security headers are replaced, fingerprints and CORS and Bulwark cookies dropped", async () => {
  const res = await get("/public/loud", { origin: "https://evil.example" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("server"), null);
  assert.equal(res.headers.get("x-powered-by"), null);
  assert.equal(res.headers.get("x-frame-options"), "DENY");
  assert.equal(res.headers.get("content-security-policy"), "default-src 'none'; frame-ancestors 'none'");
  assert.equal(res.headers.get("access-control-allow-origin"), null);
  assert.deepEqual(res.headers.getSetCookie(), ["theme=dark; Path=/"]);
  // The upstream knows whether its content may be cached.
  assert.equal(res.headers.get("cache-control"), "max-age=60");
  const allowed = await get("/public/loud", { origin: "https://app.example.com" });
  assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example.com");
  const closed = await get("/internal/x", { origin: "https://app.example.com" });
  assert.equal(closed.status, 200);
  assert.equal(closed.headers.get("access-control-allow-origin"), null, "cors: false sends no CORS headers");
});

test("X-Forwarded-* are set from what Bulwark saw, never copied from the client without TRUST_PROXY", async () => {
  await get("/public/x", {
    "x-forwarded-for": "6.6.6.6",
    "x-forwarded-host": "evil.example",
    forwarded: "for=6.6.6.6",
    "x-real-ip": "6.6.6.6",
  });
  const h = lastSeen().headers;
  assert.equal(h["x-forwarded-for"], "127.0.0.1");
  assert.equal(h["x-forwarded-proto"], "http");
  assert.equal(h.forwarded, undefined);
  assert.equal(h["x-real-ip"], undefined);
});

test("paths a URL parser would rewrite are refused, not forwarded", async () => {
  for (const path of ["/public/..%2fapp/admin", "/public/%2e%2e/app", "/public//x", "/public/a%5c..%5capp"]) {
    const before = upstream.seen.length;
    const res = await get(path);
    assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status}`);
    assert.equal(upstream.seen.length, before, `${path} never reached the upstream`);
  }
});

test("Bulwark's own paths stay Bulwark's", async () => {
  const res = await get("/health");
  assert.deepEqual(await res.json(), { status: "ok" });
  const ready = (await (await get("/ready")).json()) as { checks: { upstream?: string } };
  assert.equal(ready.checks.upstream, "ok");
});

test("an upstream that does not answer in time gets 504, one that is down 502, both as envelopes", async () => {
  const slow = await get("/public/slow");
  assert.equal(slow.status, 504);
  const body = (await slow.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, "gateway_timeout");
  const metrics = await t.app.inject({ method: "GET", url: "/metrics", headers: bearer(t.config.metricsToken) });
  assert.match(metrics.body, /gateway_upstream_errors_total\{rule="public",kind="timeout"\} 1/);
  assert.match(metrics.body, /gateway_requests_total\{rule="public",status="2xx"\}/);

  const gone = await startUpstream();
  await gone.close();
  const orphan = await startGateway(gone);
  try {
    const down = await fetch(`${orphan.base}/public/x`);
    assert.equal(down.status, 502);
    const text = await down.text();
    assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, "bad_gateway");
    assert.doesNotMatch(text, /ECONNREFUSED|127\.0\.0\.1|undici/);
    const ready = (await (await fetch(`${orphan.base}/ready`)).json()) as {
      status: string;
      checks: { upstream: string };
    };
    assert.deepEqual([ready.status, ready.checks.upstream], ["degraded", "down"]);
  } finally {
    await orphan.close();
  }
});

test("a huge response streams: the first bytes arrive before the upstream has finished", async () => {
  const res = await get("/public/stream");
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const first = await reader.read();
  // The upstream still holds the end of its body; these bytes cannot have been buffered whole.
  assert.ok(first.value && first.value.length > 0);
  upstream.finishStream();
  let total = first.value.length;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) total += chunk.value.length;
  assert.equal(total, 64 * 1024 + 1024);
});

test("a cookie session's writes through the gateway need the CSRF token", async () => {
  const user = await signedIn(t.app);
  const login = await t.app.inject({
    method: "POST",
    url: "/api/auth/login",
    payload: { login: user.username, password: user.password, use_cookies: true },
  });
  const jar = Object.fromEntries(
    (login.headers["set-cookie"] as string[]).map((line) => line.split(";")[0]!.split("=") as [string, string]),
  );
  const cookie = `${Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ")}; theme=dark`;
  const headers = { cookie, "content-type": "application/json" };
  const refused = await get("/app/orders", headers, { method: "POST", body: "{}" });
  assert.equal(refused.status, 403);
  const ok = await get(
    "/app/orders",
    { ...headers, "x-csrf-token": jar.bulwark_csrf! },
    { method: "POST", body: "{}" },
  );
  assert.equal(ok.status, 200);
  // The session cookies stay between the browser and Bulwark; the upstream's own pass.
  assert.equal(lastSeen().headers.cookie, "theme=dark");
  assert.equal(lastSeen().headers["x-csrf-token"], undefined);
});

test("bulwark check --url reports the upstream of a gateway deployment", async () => {
  const { probe } = await import("../../cli/check.js");
  const results = await probe(t.base);
  assert.deepEqual(results.find((r) => r.name === "probe upstream")?.status, "pass");
});

test("a rule's audit event records the writes the upstream answered and Bulwark's refusals", async () => {
  // A fresh per-minute window: the tests above signed up many users from this IP.
  t.clock.advance(61_000);
  const user = await signedIn(t.app);
  const ok = await get(
    "/app/orders",
    { ...bearer(user.access), "content-type": "application/json" },
    { method: "POST", body: "{}" },
  );
  assert.equal(ok.status, 200);
  const refused = await get("/app/orders", { "content-type": "application/json" }, { method: "POST", body: "{}" });
  assert.equal(refused.status, 401);
  // The success is written after the response went out: wait for it rather than for a time.
  let events: { result: string; metadata: Record<string, unknown> }[] = [];
  while (!events.some((e) => e.result === "success")) {
    events = (await t.app.bulwark.audit.query({ eventType: "app.write" })).events as unknown as typeof events;
    if (!events.some((e) => e.result === "success")) await new Promise((resolve) => setImmediate(resolve));
  }
  const success = events.find((e) => e.result === "success")!;
  assert.deepEqual(success.metadata, { rule: "app", method: "POST", status: 200 });
  assert.ok(events.some((e) => e.result === "failure" && e.metadata.status === 401));
});

test("route rules accept a proxied write without a body schema, and refuse one that also declares a schema", async () => {
  const { routeProblem } = await import("../../http/route-rules.js");
  const known = () => true;
  assert.equal(
    routeProblem({ method: "POST", url: "/x/*", config: { auth: "user", rateLimit: "default", proxied: true } }, known),
    undefined,
  );
  assert.match(
    routeProblem(
      {
        method: "POST",
        url: "/x/*",
        schema: { body: {} },
        config: { auth: "user", rateLimit: "default", proxied: true },
      },
      known,
    ) ?? "",
    /drop the body schema/,
  );
  assert.match(
    routeProblem({ method: "POST", url: "/x/*", config: { auth: "user", rateLimit: "default" } }, known) ?? "",
    /needs a body schema/,
  );
  const record = t.app.bulwark.routes().find((r) => r.url === "/app/*" && r.method === "POST");
  assert.equal(record?.body, "proxied");
});
