import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { sql } from "drizzle-orm";
import { startApp, testAudit, testStore } from "../../../test/harness.js";
import { createFakeClock } from "../../core/clock.js";
import { AppError } from "../../core/errors.js";
import { newId } from "../../core/ids.js";
import { rowsOf, type Store } from "../../store/db.js";
import { canonicalJson, GENESIS_HASH } from "./chain.js";
import type { AuditEventType, AuditService } from "./index.js";
import { scrubMetadata } from "./scrub.js";

async function withAudit(
  fn: (ctx: { store: Store; audit: AuditService; clock: ReturnType<typeof createFakeClock> }) => Promise<void>,
): Promise<void> {
  const store = await testStore();
  const clock = createFakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  try {
    await fn({ store, audit: testAudit(store.db, clock), clock });
  } finally {
    await store.close();
  }
}

type RawRow = {
  id: string;
  seq: string | number;
  event_type: string;
  metadata: Record<string, unknown>;
  user_agent: string | null;
  target: string | null;
  prev_hash: string;
  hash: string;
};

async function rawRows(store: Store): Promise<RawRow[]> {
  return rowsOf<RawRow>(await store.db.execute(sql`select * from audit_logs order by seq`));
}

test("records events that link into a chain and read back in the API shape", async () => {
  await withAudit(async ({ store, audit, clock }) => {
    await audit.record({
      eventType: "auth.login",
      result: "success",
      actor: { userId: "u1" },
      ip: "203.0.113.7",
      userAgent: "curl/8",
      target: "u1",
      metadata: { method: "password" },
    });
    clock.advance(1500);
    await audit.record({
      eventType: "api_key.create",
      result: "success",
      actor: { userId: "u1", keyId: "k1" },
      metadata: {},
    });

    const rows = await rawRows(store);
    assert.equal(rows.length, 2);
    assert.equal(rows[0]!.prev_hash, GENESIS_HASH);
    assert.equal(rows[1]!.prev_hash, rows[0]!.hash);
    assert.match(rows[0]!.hash, /^[0-9a-f]{64}$/);

    const page = await audit.query();
    assert.equal(page.nextCursor, null);
    assert.deepEqual(
      page.events.map((e) => e.event_type),
      ["api_key.create", "auth.login"],
    );
    assert.deepEqual(page.events[1], {
      id: rows[0]!.id,
      at: "2026-01-01T12:00:00.000Z",
      event_type: "auth.login",
      result: "success",
      actor: { user_id: "u1" },
      ip: "203.0.113.7",
      user_agent: "curl/8",
      target: "u1",
      metadata: { method: "password" },
    });
    assert.deepEqual(page.events[0]!.actor, { user_id: "u1", key_id: "k1" });
    assert.equal(page.events[0]!.ip, null);
    assert.equal("target" in page.events[0]!, false);
    assert.deepEqual(await audit.verify(), { ok: true, checked: 2 });
  });
});

test("query filters by event type, user, ip, result and time, and pages by cursor", async () => {
  await withAudit(async ({ audit, clock }) => {
    const t0 = clock.now();
    for (let i = 0; i < 7; i++) {
      await audit.record({
        eventType: i % 2 === 0 ? "auth.login" : "auth.logout",
        result: i === 3 ? "denied" : i === 5 ? "failure" : "success",
        actor: { userId: i < 4 ? "alice" : "bob" },
        ip: i === 6 ? "198.51.100.1" : "203.0.113.7",
        metadata: { i },
      });
      clock.advance(60_000);
    }
    const is = async (filters: Parameters<AuditService["query"]>[0]) =>
      (await audit.query(filters)).events.map((e) => e.metadata.i);

    assert.deepEqual(await is({}), [6, 5, 4, 3, 2, 1, 0]);
    assert.deepEqual(await is({ eventType: "auth.logout" }), [5, 3, 1]);
    assert.deepEqual(await is({ userId: "bob" }), [6, 5, 4]);
    assert.deepEqual(await is({ ip: "198.51.100.1" }), [6]);
    assert.deepEqual(await is({ result: "denied" }), [3]);
    assert.deepEqual(await is({ result: "failure" }), [5]);
    // since inclusive, until exclusive.
    assert.deepEqual(await is({ since: new Date(t0 + 2 * 60_000), until: new Date(t0 + 5 * 60_000) }), [4, 3, 2]);
    assert.deepEqual(await is({ userId: "alice", eventType: "auth.login", since: new Date(t0 + 60_000) }), [2]);
    assert.deepEqual(await is({ userId: "nobody" }), []);

    const seen: unknown[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await audit.query({ limit: 3, cursor });
      seen.push(...page.events.map((e) => e.metadata.i));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [6, 5, 4, 3, 2, 1, 0]);

    // Filters and cursors combine: the second page of alice's events.
    const first = await audit.query({ userId: "alice", limit: 2 });
    assert.ok(first.nextCursor);
    assert.deepEqual(
      (await audit.query({ userId: "alice", limit: 2, cursor: first.nextCursor })).events.map((e) => e.metadata.i),
      [1, 0],
    );
    // An exact multiple of the page size ends with a null cursor, not an empty page.
    assert.equal((await audit.query({ limit: 7 })).nextCursor, null);
  });
});

test("query refuses a malformed cursor and an out-of-range limit with invalid_request", async () => {
  await withAudit(async ({ audit }) => {
    for (const cursor of [
      "",
      "not base64!",
      "czo",
      "czphYmM",
      Buffer.from("s:-1").toString("base64url"),
      Buffer.from("1").toString("base64url"),
      "x".repeat(100),
    ]) {
      await assert.rejects(
        audit.query({ cursor }),
        (e: unknown) => e instanceof AppError && e.code === "invalid_request",
        cursor,
      );
    }
    for (const limit of [0, 201, 1.5, Number.NaN]) {
      await assert.rejects(
        audit.query({ limit }),
        (e: unknown) => e instanceof AppError && e.code === "invalid_request",
        String(limit),
      );
    }
    await assert.rejects(
      audit.query({ since: new Date("nope") }),
      (e: unknown) => e instanceof AppError && e.code === "invalid_request",
    );
  });
});

test("secrets in metadata never reach the audit table", async () => {
  await withAudit(async ({ store, audit }) => {
    const jwt =
      "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ1MSIsImV4cCI6MTc2NzI3MDQwMH0.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtZm9yLXRoZS10ZXN0";
    const apiKey = "bwk_AbCd1234_Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4abc123";
    // Generated per run: the test never carries a real-looking secret.
    const webhookSecret = `whsec_${randomBytes(24).toString("base64")}`;
    const hexSecret = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const sessionId = newId();
    await audit.record({
      eventType: "password.reset",
      result: "success",
      userAgent: `Mozilla/5.0 ${"x".repeat(600)}`,
      target: `Bearer ${jwt}`,
      metadata: {
        password: "correct horse battery staple",
        new_password: "Tr0ub4dor&3",
        token: "reset-token-value-1",
        refresh_token: { nested: "object-secret" },
        apiKey: "plain-looking",
        authorization: "Basic dXNlcjpwYXNz",
        cookie: "bulwark_session=zq-cookie-value",
        recovery_code: "ABCD-EFGH",
        note: `the user pasted ${jwt} into a form`,
        key_used: apiKey,
        deep: { list: [{ whatever: apiKey }, webhookSecret], digest: hexSecret },
        session_id: sessionId,
        key_id: "k1",
        route: "/api/auth/email/verify/request",
        user: "alice",
      },
    });

    const [row] = await rawRows(store);
    const stored = JSON.stringify(row);
    for (const secret of [
      "correct horse",
      "Tr0ub4dor",
      "reset-token-value-1",
      "object-secret",
      "plain-looking",
      "dXNlcjpwYXNz",
      "zq-cookie-value",
      "ABCD-EFGH",
      jwt,
      "eyJ",
      apiKey,
      "bwk_",
      "whsec_",
      hexSecret,
    ]) {
      assert.equal(stored.includes(secret), false, `${secret} reached the table`);
    }
    const m = row!.metadata;
    assert.equal(m.password, "[redacted]");
    assert.equal(m.token, "[redacted]");
    assert.equal(m.refresh_token, "[redacted]");
    assert.equal(m.note, "the user pasted [redacted] into a form");
    // Identifiers and plain values stay: the trail must remain useful.
    assert.equal(m.session_id, sessionId);
    assert.equal(m.key_id, "k1");
    assert.equal(m.route, "/api/auth/email/verify/request");
    assert.equal(m.user, "alice");
    assert.equal(row!.target, "[redacted]");
    assert.equal(row!.user_agent!.length, 512);
    assert.deepEqual(await audit.verify(), { ok: true, checked: 1 });
  });
});

test("metadata is bounded and reduced to plain JSON that hashes the same after the round trip", async () => {
  await withAudit(async ({ store, audit }) => {
    const circular: Record<string, unknown> = { name: "loop" };
    circular.self = circular;
    await audit.record({
      eventType: "test.shapes",
      result: "success",
      userAgent: "bad \u0000 agent \ud800",
      metadata: {
        z: 1,
        a: { y: [3, 1, 2], b: { d: null, c: true } },
        float: 0.1 + 0.2,
        tiny: 1e-7,
        big: 2 ** 60,
        unicode: "é✓😀",
        nul: "a\u0000b",
        lone: "x\udc00y",
        when: new Date(Date.UTC(2026, 0, 2)),
        missing: undefined,
        inf: Number.POSITIVE_INFINITY,
        n: 10n,
        circular,
        ["__proto__"]: { polluted: true },
        long: "y".repeat(5000),
      },
    });
    await audit.record({
      eventType: "test.big",
      result: "success",
      metadata: { items: Array.from({ length: 40 }, (_, i) => ({ [`k${i}`]: "v".repeat(900) })) },
    });
    assert.deepEqual(await audit.verify(), { ok: true, checked: 2 });

    const [shapes, big] = await rawRows(store);
    const m = shapes!.metadata;
    assert.equal(m.nul, "ab");
    assert.equal(m.lone, "x\ufffdy");
    assert.equal(m.when, "2026-01-02T00:00:00.000Z");
    assert.equal("missing" in m, false);
    assert.equal(m.inf, null);
    assert.equal(m.n, "10");
    assert.equal((m.long as string).length, 1000);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(shapes!.user_agent, "bad  agent \ufffd");
    assert.deepEqual(big!.metadata._truncated, true);
  });
});

test("canonical JSON sorts keys at every depth", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [{ f: 1, e: 2 }], c: "x" } }),
    '{"a":{"c":"x","d":[{"e":2,"f":1}]},"b":1}',
  );
  assert.equal(canonicalJson({ b: undefined, a: null }), '{"a":null}');
  assert.deepEqual(scrubMetadata(undefined), {});
});

test("an event recorded inside a transaction that rolls back leaves no row", async () => {
  await withAudit(async ({ store, audit }) => {
    await store.db.execute(sql`create table audit_test_things (id text primary key)`);
    await assert.rejects(
      store.db.transaction(async (tx) => {
        await tx.execute(sql`insert into audit_test_things values ('t1')`);
        await audit.record({ eventType: "thing.create", result: "success", target: "t1" }, tx);
        throw new Error("the change failed after the audit write");
      }),
      /the change failed/,
    );
    assert.equal((await rawRows(store)).length, 0);
    assert.equal(rowsOf(await store.db.execute(sql`select * from audit_test_things`)).length, 0);

    // Committed together, both are there; the rolled-back attempt left a seq gap, which the chain allows.
    await store.db.transaction(async (tx) => {
      await tx.execute(sql`insert into audit_test_things values ('t2')`);
      await audit.record({ eventType: "thing.create", result: "success", target: "t2" }, tx);
    });
    const rows = await rawRows(store);
    assert.deepEqual(
      rows.map((r) => r.target),
      ["t2"],
    );
    assert.equal(rows[0]!.prev_hash, GENESIS_HASH);
    assert.deepEqual(await audit.verify(), { ok: true, checked: 1 });
  });
});

test("record refuses malformed event types and results", async () => {
  await withAudit(async ({ audit }) => {
    await assert.rejects(audit.record({ eventType: "" as AuditEventType, result: "success" }));
    await assert.rejects(audit.record({ eventType: "Auth Login" as AuditEventType, result: "success" }));
    // Well-formed but declared by no module: a typo in a service must fail loudly, not log junk.
    await assert.rejects(
      audit.record({ eventType: "user.registered" as AuditEventType, result: "success" }),
      /undeclared event type/,
    );
    await assert.rejects(audit.record({ eventType: "auth.login", result: "maybe" as "success" }));
  });
});

test("the admin audit routes answer 401 without credentials and record the refusal", async () => {
  const t = await startApp();
  try {
    for (const url of ["/api/admin/audit-logs", "/api/admin/audit-logs/verify", "/api/admin/audit-logs?limit=5"]) {
      const res = await t.app.inject({ method: "GET", url });
      assert.equal(res.statusCode, 401, url);
      assert.equal(res.json().error.code, "unauthorized");
    }
    // The refusal is recorded by an onResponse hook, which may finish just after inject() resolves.
    const recorded = async () => {
      const events = (await t.app.bulwark.audit.query()).events;
      return (
        events.filter((e) => e.event_type === "audit_log.read" && e.result === "failure").length === 2 &&
        events.some((e) => e.event_type === "audit_log.verify" && e.result === "failure")
      );
    };
    for (let i = 0; i < 100 && !(await recorded()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(await recorded());
  } finally {
    await t.close();
  }
});

test("the admin audit routes serve admins and refuse other users", async () => {
  const t = await startApp({
    extend: (app) =>
      app.bulwark.addAuthResolver(async (req) => {
        const given = req.headers.authorization;
        if (given === "Bearer test-admin") return { type: "user", userId: "admin1", role: "admin" };
        if (given === "Bearer test-user") return { type: "user", userId: "user1", role: "user" };
        return null;
      }),
  });
  try {
    const audit = t.app.bulwark.audit;
    for (let i = 0; i < 3; i++)
      await audit.record({ eventType: "auth.login", result: "success", actor: { userId: "alice" }, metadata: { i } });
    const admin = { authorization: "Bearer test-admin" };

    assert.equal(
      (
        await t.app.inject({
          method: "GET",
          url: "/api/admin/audit-logs",
          headers: { authorization: "Bearer test-user" },
        })
      ).statusCode,
      403,
    );

    const first = await t.app.inject({
      method: "GET",
      url: "/api/admin/audit-logs?user_id=alice&limit=2",
      headers: admin,
    });
    assert.equal(first.statusCode, 200);
    const body = first.json();
    assert.deepEqual(
      body.events.map((e: { metadata: { i: number } }) => e.metadata.i),
      [2, 1],
    );
    assert.equal(typeof body.next_cursor, "string");
    const second = await t.app.inject({
      method: "GET",
      url: `/api/admin/audit-logs?user_id=alice&limit=2&cursor=${body.next_cursor}`,
      headers: admin,
    });
    assert.deepEqual(second.json(), { events: [second.json().events[0]], next_cursor: null });
    assert.equal(second.json().events[0].metadata.i, 0);

    const since = await t.app.inject({
      method: "GET",
      url: "/api/admin/audit-logs?event_type=auth.login&result=success&since=2026-01-01T00:00:00Z&until=2030-01-01T00:00:00Z",
      headers: admin,
    });
    assert.equal(since.json().events.length, 3);

    for (const bad of ["bogus=1", "limit=0", "limit=201", "result=maybe", "since=yesterday", "cursor=%21%21"]) {
      const res = await t.app.inject({ method: "GET", url: `/api/admin/audit-logs?${bad}`, headers: admin });
      assert.equal(res.statusCode, 400, bad);
      assert.equal(res.json().error.code, "invalid_request", bad);
    }

    const verify = await t.app.inject({ method: "GET", url: "/api/admin/audit-logs/verify", headers: admin });
    assert.equal(verify.statusCode, 200);
    assert.equal(verify.json().ok, true);
    // Reading the log is itself on the trail, with the reader's id.
    const reads = (await audit.query({ eventType: "audit_log.read", result: "success" })).events;
    assert.ok(reads.length >= 3);
    assert.deepEqual(reads[0]!.actor, { user_id: "admin1" });
  } finally {
    await t.close();
  }
});
