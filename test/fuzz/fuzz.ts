// The hostile-input fuzzer (docs/reliability.md, "Hostile input"): fast-check generates requests for
// every operation of the app's own OpenAPI document, valid-shaped and adversarial, as every kind of
// caller, and sends them to a real app on a real database. It holds the app to three promises: no
// 5xx, the security headers on every response, and nothing changed by a refused request.
import { connect } from "node:net";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { securityHeaders } from "../../src/http/headers.js";
import { randomToken } from "../../src/core/crypto/index.js";
import { captureLog, startApp, type TestApp } from "../harness.js";
import { bearer, login, register, signedIn, stepUp } from "../identity.js";
import { standardSecret, stripeSecret } from "../webhooks.js";
import { multipart, png } from "../files.js";
import { APPEND_ONLY, changeReader, differing, installChangeLog, snapshot, type Change } from "./changes.js";
import { HOSTILE_KEYS, hostileFor, validFor, type JsonSchema } from "./values.js";

type Parameter = { in: string; name: string; schema?: JsonSchema; required?: boolean };
/** One operation of the OpenAPI document. */
export type Operation = {
  method: string;
  path: string;
  parameters: Parameter[];
  body?: JsonSchema;
  bodyKind: "json" | "raw" | "multipart" | "none";
};

const WHO = [
  "anonymous",
  "user",
  "admin",
  "cookie",
  "cookie-no-csrf",
  "key-files",
  "key-introspect",
  "key-none",
  "key-admin",
  "logged-out",
  "revoked-key",
  "forged-jwt",
  "alg-none-jwt",
  "bad-checksum-key",
  "garbage",
] as const;
type Who = (typeof WHO)[number];

type ParamValue = { pool: number } | { raw: string; encode: boolean };
type Body =
  | { kind: "none" }
  | { kind: "json"; value: unknown }
  | { kind: "text"; text: string; contentType: string | null }
  | { kind: "huge"; bytes: number }
  | { kind: "deep"; depth: number }
  | { kind: "multipart"; field: string; filename: string; type: string; data: "png" | "text" | "empty" | "random" };
/** A request before it meets the current state (real ids are picked from the pool when it is sent). */
type Descriptor = {
  op: number;
  who: Who;
  mode: string;
  params: Record<string, ParamValue>;
  query: Record<string, unknown> | string;
  body: Body;
  headers: Record<string, string>;
  ip: number;
};

export type FuzzOptions = {
  requests: number;
  seed: number;
  /** Requests per batch: principals are checked and the database snapshotted between batches. */
  batch?: number;
  /** Share of requests sent as raw bytes over a real socket (malformed HTTP, oversized headers). */
  socketShare?: number;
  progress?: (done: number, report: FuzzReport) => void;
  /** Called with each new kind of failure as it is found. */
  onFailure?: (failure: Failure) => void;
};

export type Failure = { kind: "5xx" | "headers" | "changed" | "snapshot"; what: string; request: string };
export type FuzzReport = {
  requests: number;
  socketRequests: number;
  byStatus: Record<string, number>;
  refused: number;
  succeeded: number;
  operations: number;
  operationsReached: number;
  /** Allowed side effects of refusals, by table and reason (docs/reliability.md). */
  allowedChanges: Record<string, number>;
  failures: Failure[];
  seconds: number;
  database: string;
};

/** Columns a request may touch merely by presenting a good credential, whatever the answer. */
const LAST_USED: Record<string, string[]> = { sessions: ["last_used_at"], api_keys: ["last_used_at"] };

/**
 * Whether a change made during a refused request is one its refusal is meant to make; the label
 * names the rule (docs/reliability.md lists them), null when it is a breach.
 */
function allowed(change: Change, op: Operation, res: { status: number; code: string | undefined }): string | null {
  const cols = LAST_USED[change.table];
  if (change.op === "UPDATE" && cols && change.columns.every((c) => cols.includes(c)))
    return `${change.table}.last_used_at (credential used)`;
  // A wrong password is counted against the login name wherever it is checked (sign-in, step-up,
  // two-factor changes): the lockout of docs/account-protection.md.
  if (change.table === "login_failures" && [401, 403, 429].includes(res.status))
    return "login_failures (failed password counted)";
  // A rotated refresh token presented again ends its session (RFC 9700 reuse detection).
  if (res.code === "token_reused" && ["sessions", "refresh_tokens"].includes(change.table))
    return `${change.table} (refresh token reuse ends the session)`;
  // A key's expiry is audited once, by the 30 s sweep (a timer, so it may land inside any request)
  // or when the expired key is presented (refused 401): only the two bookkeeping columns move.
  if (
    change.op === "UPDATE" &&
    change.table === "api_keys" &&
    change.columns.every((c) => c === "expiry_recorded_at" || c === "updated_at")
  )
    return "api_keys.expiry_recorded_at (expiry audited)";
  // A wrong two-factor code counts against the challenge's attempt cap.
  if (change.table === "mfa_challenges" && op.path.startsWith("/api/auth/mfa"))
    return "mfa_challenges (attempt counted)";
  return null;
}

/** The operations of the app's OpenAPI document (GET /openapi.json). */
export async function operations(app: FastifyInstance): Promise<Operation[]> {
  const res = await app.inject({ method: "GET", url: "/openapi.json" });
  if (res.statusCode !== 200) throw new Error(`GET /openapi.json: ${res.statusCode}`);
  const doc = res.json() as {
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const content = (op.requestBody as { content?: Record<string, { schema?: JsonSchema }> } | undefined)?.content;
      const kind = op["x-bulwark-body"] as string | undefined;
      ops.push({
        method: method.toUpperCase(),
        path,
        parameters: (op.parameters as Parameter[] | undefined) ?? [],
        body: content?.["application/json"]?.schema,
        bodyKind: kind === "raw" ? "raw" : kind === "multipart" ? "multipart" : content ? "json" : "none",
      });
    }
  }
  return ops.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}

// ---------------------------------------------------------------- generation

const pathAttack = fc.oneof(
  fc.constantFrom(
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    "..",
    "%00",
    "a%00b",
    "%ZZ",
    "%",
    "%E0%A4%A",
    "%C0%AE%C0%AE",
    "me",
    "null",
    "0",
    "-1",
    "x".repeat(199),
    "x".repeat(201),
    "x".repeat(5000),
    "%F0%9F%98%80",
    "%E2%80%AE",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
  ),
  fc.string({ unit: "binary", maxLength: 40 }).map((s) => encode(s)),
);

/** Percent-encodes any string; a lone surrogate (which encodeURIComponent refuses) is sent as U+FFFD. */
const encode = (s: string): string =>
  encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"));

/** A value as URL text (JSON for anything but a string; never throws, even on a null-prototype object). */
const text = (v: unknown): string => (typeof v === "string" ? v : (JSON.stringify(v) ?? "undefined"));

function paramArb(param: Parameter): fc.Arbitrary<ParamValue> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.nat().map((pool) => ({ pool })) },
    { weight: 2, arbitrary: validFor(param.schema).map((v) => ({ raw: text(v), encode: true })) },
    { weight: 2, arbitrary: pathAttack.map((raw) => ({ raw, encode: false })) },
    { weight: 1, arbitrary: hostileFor(param.schema).map((v) => ({ raw: text(v), encode: true })) },
  );
}

function objectWith(schema: JsonSchema | undefined, mutate: "hostile" | "unknown" | "missing"): fc.Arbitrary<unknown> {
  const props = Object.keys(schema?.properties ?? {});
  const valid = validFor(schema ?? { type: "object" });
  if (mutate === "unknown")
    return fc
      .tuple(valid, fc.constantFrom(...HOSTILE_KEYS, "extra"), fc.jsonValue({ maxDepth: 2 }))
      .map(([v, k, x]) => Object.assign(Object.create(null) as object, v, { [k]: x }));
  if (props.length === 0) return fc.oneof(hostileFor(undefined), valid);
  if (mutate === "missing")
    return fc.tuple(valid, fc.constantFrom(...props)).map(([v, k]) => {
      const copy = { ...(v as Record<string, unknown>) };
      delete copy[k];
      return copy;
    });
  return fc
    .tuple(valid, fc.constantFrom(...props))
    .chain(([v, k]) =>
      hostileFor(schema?.properties?.[k]).map((bad) => ({ ...(v as Record<string, unknown>), [k]: bad })),
    );
}

function bodyArb(op: Operation): fc.Arbitrary<{ mode: string; body: Body }> {
  const json = (mode: string, arb: fc.Arbitrary<unknown>) =>
    arb.map((value) => ({ mode, body: { kind: "json" as const, value } }));
  const malformed = fc
    .constantFrom(
      "{",
      "{'a':1}",
      '{"a":1,}',
      "[]",
      "null",
      '"x"',
      "1e999999",
      '{"a":1}{"b":2}',
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"a":"\\ud800"}',
      '{"a":1,"a":2}',
      "\ufeff{}",
      "\u0000",
    )
    .map((text) => ({
      mode: "malformed-json",
      body: { kind: "text" as const, text, contentType: "application/json" },
    }));
  const wrongType = fc
    .tuple(
      fc.constantFrom(
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "application/json; charset=utf-16",
        "application/json; charset=latin1",
        "multipart/form-data; boundary=x",
        "multipart/form-data",
        "application/octet-stream",
        "application/jsonx",
        "APPLICATION/JSON",
        "application/json, text/plain",
        null,
      ),
      fc.constantFrom("a=1&b=2", "{}", "<a/>", "--x\r\n\r\n--x--", ""),
    )
    .map(([contentType, text]) => ({ mode: "content-type", body: { kind: "text" as const, text, contentType } }));
  const huge = fc
    .constantFrom(1_048_577, 1_200_000, 3_000_000)
    .map((bytes) => ({ mode: "huge-body", body: { kind: "huge" as const, bytes } }));
  const deep = fc
    .constantFrom(33, 100, 10_000, 200_000)
    .map((depth) => ({ mode: "deep-body", body: { kind: "deep" as const, depth } }));
  const multipartArb = fc
    .record({
      field: fc.constantFrom("file", "file", "visibility", "other", ""),
      filename: fc.constantFrom("a.png", "../../x.png", "a\u0000.png", "\u202egnp.exe", "x".repeat(300), ""),
      type: fc.constantFrom("image/png", "text/html", "application/x-msdownload", "image/svg+xml", ""),
      data: fc.constantFrom("png" as const, "text" as const, "empty" as const, "random" as const),
    })
    .map((m) => ({ mode: "multipart", body: { kind: "multipart" as const, ...m } }));
  const none = fc.constant({ mode: "no-body", body: { kind: "none" as const } });
  if (op.bodyKind === "raw")
    return fc.oneof(json("raw-json", fc.jsonValue({ maxDepth: 3 })), malformed, wrongType, huge, none);
  if (op.bodyKind === "multipart")
    return fc.oneof({ weight: 4, arbitrary: multipartArb }, malformed, wrongType, huge, none);
  if (op.bodyKind === "none")
    return fc.oneof({ weight: 4, arbitrary: none }, json("unexpected-body", fc.jsonValue({ maxDepth: 2 })), wrongType);
  return fc.oneof(
    { weight: 6, arbitrary: json("valid-shaped", validFor(op.body)) },
    { weight: 4, arbitrary: json("hostile-field", objectWith(op.body, "hostile")) },
    { weight: 2, arbitrary: json("unknown-field", objectWith(op.body, "unknown")) },
    { weight: 2, arbitrary: json("missing-field", objectWith(op.body, "missing")) },
    { weight: 1, arbitrary: json("wrong-type", hostileFor(undefined)) },
    { weight: 2, arbitrary: malformed },
    { weight: 2, arbitrary: wrongType },
    { weight: 1, arbitrary: huge },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: none },
  );
}

function queryArb(op: Operation): fc.Arbitrary<Record<string, unknown> | string> {
  const params = op.parameters.filter((p) => p.in === "query");
  const valid = fc.record(Object.fromEntries(params.map((p) => [p.name, validFor(p.schema)])), {
    requiredKeys: [],
  }) as fc.Arbitrary<Record<string, unknown>>;
  const hostile =
    params.length === 0
      ? valid
      : fc
          .tuple(valid, fc.constantFrom(...params))
          .chain(([v, p]) => hostileFor(p.schema).map((bad) => ({ ...v, [p.name]: bad })));
  const raw = fc.constantFrom(
    "a=1&a=2&a=3",
    "__proto__[x]=1",
    "constructor[prototype][x]=1",
    "limit=1&limit=2",
    "limit=-1",
    "limit=1e3",
    "%ZZ=1",
    "x=%00",
    "&&&=&",
    `q=${"x".repeat(10_000)}`,
    "cursor=..%2F..",
    "ticket=",
    "meta=1",
  );
  return fc.oneof({ weight: 5, arbitrary: valid }, { weight: 3, arbitrary: hostile }, { weight: 1, arbitrary: raw });
}

const headerArb: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({}) },
  fc.constantFrom<Record<string, string>>(
    { "x-forwarded-for": "1.2.3.4, 127.0.0.1" },
    { "x-request-id": "\u0000".repeat(3) },
    { "x-request-id": "x".repeat(500) },
    { origin: "https://evil.example" },
    { origin: "null" },
    { "x-csrf-token": "x" },
    { cookie: "bulwark_access=garbage; bulwark_csrf=x" },
    { cookie: `bulwark_refresh=${"x".repeat(5000)}` },
    { "x-api-key": "bwk_" + "A".repeat(60) },
    { authorization: "Basic dXNlcjpwYXNz" },
    { authorization: "Bearer" },
    { authorization: "Bearer " + "a".repeat(20_000) },
    { "x-huge": "h".repeat(60_000) },
    { "accept-encoding": "gzip;q=1e9999" },
    { host: "evil.example" },
    { "x-http-method-override": "DELETE" },
    { "content-encoding": "gzip" },
    { "transfer-encoding": "chunked" },
    { "stripe-signature": "t=1,v1=00" },
    { "webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA" },
  ),
);

function descriptorArb(ops: Operation[]): fc.Arbitrary<Descriptor> {
  // Built once per operation: building an arbitrary costs far more than drawing from it.
  const perOp = ops.map((op, index) => {
    const pathParams = op.parameters.filter((p) => p.in === "path");
    return fc
      .record({
        who: fc.constantFrom(...WHO),
        params: fc.record(Object.fromEntries(pathParams.map((p) => [p.name, paramArb(p)]))) as fc.Arbitrary<
          Record<string, ParamValue>
        >,
        query: queryArb(op),
        body: bodyArb(op),
        headers: headerArb,
        ip: fc.nat({ max: 15 }),
      })
      .map(({ body, ...rest }) => ({ ...rest, op: index, mode: body.mode, body: body.body }));
  });
  return fc.nat({ max: ops.length - 1 }).chain((index) => perOp[index]!);
}

// ---------------------------------------------------------------- the world the requests meet

type Credentials = { headers: Record<string, string> };

type World = {
  who: Map<Who, Credentials>;
  pool: Map<string, string[]>;
  png: Buffer;
};

/** Which pool a path parameter draws real ids from: the collection it follows. */
function poolOf(path: string, name: string): string {
  const segments = path.split("/");
  const at = segments.indexOf(`{${name}}`);
  return segments[at - 1] ?? "any";
}

function remember(world: World, kind: string, id: unknown): void {
  if (typeof id !== "string" || id.length > 200) return;
  const list = world.pool.get(kind) ?? [];
  if (!list.includes(id)) list.push(id);
  if (list.length > 50) list.shift();
  world.pool.set(kind, list);
}

function cookiesOf(res: LightMyRequestResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of res.cookies as { name: string; value: string }[]) out[c.name] = c.value;
  return out;
}

async function signedInWithKey(app: FastifyInstance, scopes: string[], admin = false) {
  const user = await signedIn(app);
  if (admin) {
    await app.bulwark.accounts.promote(user.username, { userId: null });
    const again = await login(app, user);
    user.access = again.json().access_token as string;
  }
  await stepUp(app, user);
  const res = await app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(user.access),
    payload: { name: "fuzz", scopes },
  });
  if (res.statusCode !== 201) throw new Error(`key: ${res.statusCode} ${res.body}`);
  return { user, key: res.json() as { id: string; key: string } };
}

/** Signs everybody in (again): users, an admin, keys with scopes, and credentials that must fail. */
async function buildWorld(t: TestApp, world: World): Promise<void> {
  const app = t.app;
  const { user, key: filesKey } = await signedInWithKey(app, ["files:read", "files:write"]);
  const other = await register(app);
  const introspect = await app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(user.access),
    payload: { name: "introspect", scopes: ["introspect"] },
  });
  const plain = await app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(user.access),
    payload: { name: "plain", scopes: [] },
  });
  const { user: admin, key: adminKey } = await signedInWithKey(app, ["admin"], true);
  // Cookie mode: the browser's cookies and the double-submit CSRF header.
  const cookieUser = await register(app);
  const cookieLogin = await login(app, cookieUser, { use_cookies: true });
  const jar = cookiesOf(cookieLogin);
  const cookie = Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
  const csrf = Object.entries(jar).find(([k]) => k.endsWith("bulwark_csrf"))?.[1] ?? "";
  // Credentials that must be refused: a logged-out session, a revoked key, forgeries.
  const gone = await signedIn(app);
  await app.inject({ method: "POST", url: "/api/auth/logout", headers: bearer(gone.access), payload: {} });
  const revoked = await app.inject({
    method: "POST",
    url: "/api/keys",
    headers: bearer(user.access),
    payload: { name: "revoked", scopes: ["files:read"] },
  });
  await app.inject({
    method: "DELETE",
    url: `/api/keys/${revoked.json().id as string}`,
    headers: bearer(user.access),
    payload: {},
  });
  const [head, claims] = user.access.split(".") as [string, string];
  const forged = `${head}.${claims}.${randomBytes(64).toString("base64url")}`;
  const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url")}.${claims}.`;
  const key = filesKey.key;
  const badChecksum = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
  world.who = new Map<Who, Credentials>([
    ["anonymous", { headers: {} }],
    ["user", { headers: bearer(user.access) }],
    ["admin", { headers: bearer(admin.access) }],
    ["cookie", { headers: { cookie, "x-csrf-token": csrf } }],
    ["cookie-no-csrf", { headers: { cookie } }],
    ["key-files", { headers: { "x-api-key": filesKey.key } }],
    ["key-introspect", { headers: bearer(introspect.json().key as string) }],
    ["key-none", { headers: { "x-api-key": plain.json().key as string } }],
    ["key-admin", { headers: bearer(adminKey.key) }],
    ["logged-out", { headers: bearer(gone.access) }],
    ["revoked-key", { headers: { "x-api-key": revoked.json().key as string } }],
    ["forged-jwt", { headers: bearer(forged) }],
    ["alg-none-jwt", { headers: bearer(none) }],
    ["bad-checksum-key", { headers: { "x-api-key": badChecksum } }],
    ["garbage", { headers: bearer(randomToken(40)) }],
  ]);
  for (const id of [user.userId, other.userId, admin.userId, cookieUser.userId]) remember(world, "users", id);
  remember(world, "members", other.userId);
  remember(world, "sessions", user.sessionId);
  for (const id of [filesKey.id, adminKey.id]) remember(world, "keys", id);
  // Something for the ids to find: a conversation with a message, a file.
  const conv = await app.inject({
    method: "POST",
    url: "/api/conversations",
    headers: bearer(user.access),
    payload: { type: "direct", member_ids: [other.userId] },
  });
  const convId = (conv.json() as { conversation?: { id?: string }; id?: string }).conversation?.id;
  if (convId) {
    remember(world, "conversations", convId);
    const msg = await app.inject({
      method: "POST",
      url: `/api/conversations/${convId}/messages`,
      headers: bearer(user.access),
      payload: { body: "hello" },
    });
    remember(world, "messages", (msg.json() as { message?: { id?: string } }).message?.id);
  }
  const file = multipart([{ name: "file", filename: "a.png", type: "image/png", data: world.png }]);
  const up = await app.inject({
    method: "POST",
    url: "/api/files",
    headers: { ...file.headers, ...bearer(user.access) },
    payload: file.payload,
  });
  remember(world, "files", (up.json() as { id?: string }).id);
  // A refresh token that was already rotated, replayed as a body field and as a cookie.
  const fresh = await signedIn(app);
  await app.inject({ method: "POST", url: "/api/auth/refresh", payload: { refresh_token: fresh.refresh } });
  remember(world, "refresh", fresh.refresh);
}

/** Whether the principals that must work still do (a fuzzed request may log one out or disable it). */
async function healthy(app: FastifyInstance, world: World): Promise<boolean> {
  for (const who of ["user", "admin", "cookie", "key-files", "key-admin"] as const) {
    const res = await app.inject({ method: "GET", url: "/api/whoami", headers: world.who.get(who)!.headers });
    if (res.statusCode !== 200 || (res.json() as { principal?: unknown }).principal == null) return false;
  }
  return true;
}

// ---------------------------------------------------------------- sending

function deep(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

function urlOf(op: Operation, d: Descriptor, world: World): string {
  let path = op.path;
  for (const p of op.parameters.filter((x) => x.in === "path")) {
    const v = d.params[p.name] ?? { raw: "x", encode: true };
    let value: string;
    if ("pool" in v) {
      const list = world.pool.get(poolOf(op.path, p.name)) ?? [];
      const any = [...world.pool.values()].flat();
      const from = list.length > 0 && v.pool % 4 !== 0 ? list : any;
      value = from.length > 0 ? from[v.pool % from.length]! : "0".repeat(32);
    } else value = v.encode ? encode(v.raw) : v.raw;
    path = path.replace(`{${p.name}}`, value);
  }
  if (typeof d.query === "string") return `${path}?${d.query}`;
  const pairs = Object.entries(d.query).flatMap(([k, v]) =>
    v === undefined ? [] : [`${encode(k)}=${encode(typeof v === "string" ? v : (JSON.stringify(v) ?? ""))}`],
  );
  return pairs.length > 0 ? `${path}?${pairs.join("&")}` : path;
}

function payloadOf(d: Descriptor, world: World): { payload?: string | Buffer; headers: Record<string, string> } {
  const b = d.body;
  switch (b.kind) {
    case "none":
      return { headers: {} };
    case "json": {
      // Replay: a refresh token that was already rotated (or is still live) where the body takes one.
      const value = b.value;
      const replay = world.pool.get("refresh") ?? [];
      if (value && typeof value === "object" && "refresh_token" in value && replay.length > 0 && d.ip % 2 === 0)
        (value as Record<string, unknown>).refresh_token = replay[d.ip % replay.length];
      return { payload: JSON.stringify(value) ?? "null", headers: { "content-type": "application/json" } };
    }
    case "text":
      return { payload: b.text, headers: b.contentType ? { "content-type": b.contentType } : {} };
    case "huge":
      return { payload: `{"a":"${"x".repeat(b.bytes)}"}`, headers: { "content-type": "application/json" } };
    case "deep":
      return { payload: deep(b.depth), headers: { "content-type": "application/json" } };
    case "multipart": {
      const data =
        b.data === "png"
          ? world.png
          : b.data === "text"
            ? Buffer.from("<html><script>alert(1)</script></html>")
            : b.data === "empty"
              ? Buffer.alloc(0)
              : randomBytes(512);
      const body = multipart([{ name: b.field, filename: b.filename, type: b.type || undefined, data }]);
      return { payload: body.payload, headers: body.headers };
    }
  }
}

/** Routes that deliberately let browsers and proxies cache them (public keys, static assets). */
const CACHEABLE = ["/.well-known/jwks.json", "/assets/", "/docs/static/", "/favicon.ico"];
/** Headers whose value no route may change. */
const FIXED = [
  "strict-transport-security",
  "x-content-type-options",
  "x-frame-options",
  "referrer-policy",
  "cross-origin-opener-policy",
  "permissions-policy",
  "x-xss-protection",
];

/**
 * What is wrong with a response's security headers. The fixed ones must be exactly the hook's;
 * a route may tighten or widen only what docs/security-model.md lets it: its own CSP (still
 * `frame-ancestors 'none'`), caching of public static answers, and a cross-origin CORP on the
 * documents other origins must read (JWKS, /env.js).
 */
function headerProblems(headers: Record<string, unknown>, expected: Record<string, string>, url: string): string[] {
  const bad = FIXED.filter((k) => expected[k] !== undefined && headers[k] !== expected[k]).map(
    (k) => `${k}=${String(headers[k])}`,
  );
  if (!String(headers["content-security-policy"] ?? "").includes("frame-ancestors 'none'"))
    bad.push(`content-security-policy=${String(headers["content-security-policy"])}`);
  const cache = String(headers["cache-control"] ?? "");
  if (cache !== "no-store" && !(cache && CACHEABLE.some((p) => url.startsWith(p)))) bad.push(`cache-control=${cache}`);
  if (!["same-origin", "cross-origin"].includes(String(headers["cross-origin-resource-policy"])))
    bad.push(`cross-origin-resource-policy=${String(headers["cross-origin-resource-policy"])}`);
  if (!headers["x-request-id"]) bad.push("x-request-id missing");
  if (headers["x-powered-by"] !== undefined) bad.push("x-powered-by present");
  return bad;
}

function describe(op: Operation, d: Descriptor, url: string): string {
  const body = d.body.kind === "json" ? JSON.stringify(d.body.value) : JSON.stringify(d.body);
  return `${op.method} ${url.slice(0, 200)} as ${d.who} (${d.mode}) body=${(body ?? "").slice(0, 200)} headers=${JSON.stringify(d.headers).slice(0, 120)}`;
}

// ---------------------------------------------------------------- raw socket requests

const RAW_ATTACKS: readonly ((host: string) => string)[] = [
  (h) => `GET /health HTTP/1.1\r\nHost: ${h}\r\nX-Big: ${"a".repeat(70_000)}\r\nConnection: close\r\n\r\n`,
  (h) => `GET /health HTTP/1.1\r\nHost: ${h}\r\n${"X-A: b\r\n".repeat(3000)}Connection: close\r\n\r\n`,
  () => `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n`,
  () => `GARBAGE\r\n\r\n`,
  () => `GET /health HTTP/9.9\r\nConnection: close\r\n\r\n`,
  (h) => `GET /he\u0000alth HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
  (h) => `GET /health HTTP/1.1\r\nHost: ${h}\r\nBad Header: x\r\nConnection: close\r\n\r\n`,
  (h) =>
    `POST /api/auth/login HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 5\r\nContent-Length: 6\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{}{}{}`,
  (h) =>
    `POST /api/auth/login HTTP/1.1\r\nHost: ${h}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\nConnection: close\r\n\r\n0\r\n\r\n`,
  (h) =>
    `POST /api/auth/login HTTP/1.1\r\nHost: ${h}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
  (h) => `GET http://evil.example/health HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
  (h) => `GET /${"a/".repeat(20_000)} HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
  (h) => `GET /api/users/me HTTP/1.1\r\nHost: ${h}\r\nAuthorization: Bearer \u00ff\u00fe\r\nConnection: close\r\n\r\n`,
  (h) => `DELETE /api/keys/..%2f HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
];

/** Sends raw bytes and reads the status and headers of the answer (null when the server just closed). */
function rawExchange(port: number, bytes: string): Promise<{ status: number; headers: Record<string, string> } | null> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const finish = () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const head = text.split("\r\n\r\n")[0] ?? "";
      const [statusLine, ...lines] = head.split("\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1] ?? 0);
      if (!status) return resolve(null);
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const at = line.indexOf(":");
        if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      resolve({ status, headers });
    };
    socket.setTimeout(5000, () => socket.destroy());
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => undefined);
    socket.on("close", finish);
    socket.end(Buffer.from(bytes, "latin1"));
  });
}

// ---------------------------------------------------------------- the run

/** Starts an app on the harness's database (PGlite, or PostgreSQL with TEST_DATABASE_URL) and fuzzes it. */
export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const many = "10000000";
  const log = captureLog();
  const t = await startApp({
    log: log.stream,
    logLevel: "error",
    env: {
      RATE_LIMIT_PER_MINUTE: many,
      RATE_LIMIT_PER_HOUR: many,
      AUTH_LOGIN_PER_MINUTE: many,
      AUTH_REGISTER_PER_MINUTE: many,
      SENSITIVE_PER_MINUTE: many,
      STRIPE_WEBHOOK_SECRET: stripeSecret(),
      WEBHOOK_SECRET_GITHUB: standardSecret(),
      REGISTRATION: "open",
    },
  });
  try {
    return await run(t, options, log);
  } finally {
    await t.close();
  }
}

async function run(t: TestApp, options: FuzzOptions, log: ReturnType<typeof captureLog>): Promise<FuzzReport> {
  const started = Date.now();
  const app = t.app;
  const db = app.bulwark.db;
  const expected = securityHeaders(t.config.production);
  const ops = await operations(app);
  const world: World = { who: new Map(), pool: new Map(), png: await png() };
  await buildWorld(t, world);
  await installChangeLog(db);
  const changes = changeReader(db);
  await changes();
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as { port: number }).port;

  const report: FuzzReport = {
    requests: 0,
    socketRequests: 0,
    byStatus: {},
    refused: 0,
    succeeded: 0,
    operations: ops.length,
    operationsReached: 0,
    allowedChanges: {},
    failures: [],
    seconds: 0,
    database: process.env.TEST_DATABASE_URL ? "postgresql" : "pglite",
  };
  const reached = new Set<number>();
  const seen = new Set<string>();
  const fail = (f: Failure) => {
    // One example per kind of failure and route is enough to fix it; the count says how often.
    const key = `${f.kind} ${f.what}`;
    if (seen.has(key)) return;
    seen.add(key);
    report.failures.push(f);
    options.onFailure?.(f);
  };
  const batch = options.batch ?? 200;
  const socketShare = options.socketShare ?? 0.01;
  const arb = descriptorArb(ops);
  let n = 0;
  for (let b = 0; n < options.requests; b++) {
    if (!(await healthy(app, world))) await buildWorld(t, world);
    await changes();
    const before = await snapshot(db);
    const touched = new Set<string>();
    const size = Math.min(batch, options.requests - n);
    const descriptors = fc.sample(arb, { seed: options.seed + b, numRuns: size });
    for (const [i, d] of descriptors.entries()) {
      n++;
      // The clock moves on (50 ms a request): tokens expire and grace periods end during a long run.
      t.clock.advance(50);
      if ((options.seed + b * batch + i) % Math.round(1 / socketShare) === 0) {
        const attack = RAW_ATTACKS[(b + i) % RAW_ATTACKS.length]!;
        const res = await rawExchange(port, attack(`127.0.0.1:${port}`));
        report.socketRequests++;
        report.requests++;
        const status = res?.status ?? 0;
        report.byStatus[status === 0 ? "closed" : String(status)] =
          (report.byStatus[status === 0 ? "closed" : String(status)] ?? 0) + 1;
        if (res && res.status >= 500)
          fail({ kind: "5xx", what: `raw ${res.status}`, request: attack("h").slice(0, 200) });
        if (res && headerProblems(res.headers, expected, "/").length > 0)
          fail({
            kind: "headers",
            what: `raw ${res.status} missing ${headerProblems(res.headers, expected, "/").join(",")}`,
            request: attack("h").slice(0, 200),
          });
        for (const c of await changes()) touched.add(c.table);
        continue;
      }
      const op = ops[d.op]!;
      const url = urlOf(op, d, world);
      const body = payloadOf(d, world);
      const res = await app.inject({
        method: op.method as "GET",
        url,
        headers: { ...body.headers, ...world.who.get(d.who)!.headers, ...d.headers },
        ...(body.payload !== undefined ? { payload: body.payload } : {}),
        remoteAddress: `10.0.0.${d.ip + 1}`,
      });
      report.requests++;
      report.byStatus[String(res.statusCode)] = (report.byStatus[String(res.statusCode)] ?? 0) + 1;
      const what = () => describe(op, d, url);
      if (res.statusCode >= 500) {
        // The logged error says why (its message and where it was thrown); the body never does.
        const id = String(res.headers["x-request-id"]);
        const line = log.lines.find((l) => l.includes(id));
        const err = line ? (JSON.parse(line) as { err?: { message?: string; stack?: string } }).err : undefined;
        const where =
          err?.stack
            ?.split("\n")
            .find((l) => l.includes("/src/"))
            ?.trim() ?? "";
        fail({
          kind: "5xx",
          what: `${op.method} ${op.path} ${res.statusCode}: ${err?.message ?? "?"} ${where}`,
          request: what(),
        });
      }
      log.lines.length = 0;
      const missing = headerProblems(res.headers, expected, url);
      if (missing.length > 0)
        fail({
          kind: "headers",
          what: `${op.method} ${op.path} ${res.statusCode} ${missing.join(" ")}`,
          request: what(),
        });
      const changed = await changes();
      for (const c of changed) touched.add(c.table);
      if (res.statusCode >= 400) {
        report.refused++;
        let code: string | undefined;
        try {
          code = (res.json() as { error?: { code?: string } }).error?.code;
        } catch {
          code = undefined;
        }
        for (const c of changed) {
          const rule = allowed(c, op, { status: res.statusCode, code });
          if (rule) report.allowedChanges[rule] = (report.allowedChanges[rule] ?? 0) + 1;
          else
            fail({
              kind: "changed",
              what: `${op.method} ${op.path} ${res.statusCode} ${code ?? ""} ${c.op} ${c.table}(${c.columns.join(",")})`,
              request: what(),
            });
        }
      } else if (res.statusCode < 400) {
        report.succeeded++;
        reached.add(d.op);
        harvest(world, op, res);
      }
    }
    // The change log is only as good as its coverage: every table that differs across the batch
    // must have been written by a request the log saw (a table without the trigger would not be).
    const after = await snapshot(db);
    for (const table of differing(before, after))
      if (!touched.has(table) && !APPEND_ONLY.has(table))
        fail({ kind: "snapshot", what: `${table} changed outside the change log`, request: `batch ${b}` });
    report.operationsReached = reached.size;
    report.seconds = Math.round((Date.now() - started) / 100) / 10;
    options.progress?.(n, report);
  }
  report.operationsReached = reached.size;
  report.seconds = Math.round((Date.now() - started) / 100) / 10;
  return report;
}

/** Ids in a successful answer go to the pool, so later requests reach real objects. */
function harvest(world: World, op: Operation, res: LightMyRequestResponse): void {
  if (!String(res.headers["content-type"] ?? "").includes("json")) return;
  let body: unknown;
  try {
    body = res.json();
  } catch {
    return;
  }
  const kind = op.path
    .split("/")
    .filter((s) => s && !s.startsWith("{"))
    .pop();
  const visit = (value: unknown, depth: number) => {
    if (!value || typeof value !== "object" || depth > 2) return;
    if (Array.isArray(value)) return value.slice(0, 5).forEach((v) => visit(v, depth + 1));
    const record = value as Record<string, unknown>;
    if (typeof record.id === "string") remember(world, kind ?? "any", record.id);
    if (typeof record.refresh_token === "string") remember(world, "refresh", record.refresh_token);
    for (const v of Object.values(record)) visit(v, depth + 1);
  };
  visit(body, 0);
}
