// Attack: a database owner deletes an audit row and relinks the next one (rewrites its prev_hash), which only a hash that covers prev_hash detects.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { sql } from "drizzle-orm";
import { testAudit, testStore } from "../../../test/harness.js";
import { createFakeClock } from "../../core/clock.js";
import { rowsOf, type Store } from "../../store/db.js";
import { canonicalRow, GENESIS_HASH, rowHash } from "./chain.js";
import type { AuditService } from "./index.js";

type VectorRow = {
  id: string;
  at: string;
  event_type: string;
  result: string;
  actor_user_id: string | null;
  actor_key_id: string | null;
  ip: string | null;
  user_agent: string | null;
  target: string | null;
  metadata: Record<string, unknown>;
};
type Vector = { chain: { row: VectorRow; prev_hash: string; canonical: string; hash: string }[] };

const vector = JSON.parse(
  readFileSync(new URL("../../../test/vectors/audit-chain.json", import.meta.url), "utf8"),
) as Vector;

/** The documented hash, computed here with node:crypto alone (not with chain.ts). */
function independentHash(prevHash: string, canonical: string): string {
  return createHash("sha256")
    .update(Buffer.from(prevHash + canonical, "utf8"))
    .digest("hex");
}

/** The documented canonical form, written again here: keys sorted at every depth, no whitespace. */
function independentCanonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(independentCanonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${independentCanonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function asChained(row: VectorRow) {
  return {
    id: row.id,
    at: new Date(row.at),
    eventType: row.event_type,
    result: row.result,
    actorUserId: row.actor_user_id,
    actorKeyId: row.actor_key_id,
    ip: row.ip,
    userAgent: row.user_agent,
    target: row.target,
    metadata: row.metadata,
  };
}

test("known-answer vector: the vector is self-consistent under node:crypto, and links each row to the one before", () => {
  let prev = GENESIS_HASH;
  assert.equal(prev, "0".repeat(64));
  for (const link of vector.chain) {
    assert.equal(link.prev_hash, prev);
    assert.equal(independentHash(link.prev_hash, link.canonical), link.hash);
    prev = link.hash;
  }
});

test("known-answer vector: chain.ts gives the published canonical text and hash for every row", () => {
  for (const link of vector.chain) {
    assert.equal(canonicalRow(asChained(link.row)), link.canonical, link.row.id);
    assert.equal(rowHash(link.prev_hash, asChained(link.row)), link.hash, link.row.id);
  }
});

test("known-answer vector: the same row under another prev_hash has another hash (the link is hashed)", () => {
  const [first, second] = vector.chain;
  const moved = rowHash(first!.prev_hash, asChained(second!.row));
  assert.notEqual(moved, second!.hash);
  assert.equal(moved, independentHash(first!.prev_hash, second!.canonical));
});

/** Writes the vector's rows and head straight into a fresh database, as a restored backup would hold them. */
async function withVectorLog(fn: (ctx: { store: Store; audit: AuditService }) => Promise<void>): Promise<void> {
  const store = await testStore();
  try {
    for (const { row, prev_hash, hash } of vector.chain) {
      await store.db
        .execute(sql`insert into audit_logs (id, at, event_type, result, actor_user_id, actor_key_id, ip, user_agent, target, metadata, prev_hash, hash)
        values (${row.id}, ${row.at}, ${row.event_type}, ${row.result}, ${row.actor_user_id}, ${row.actor_key_id}, ${row.ip}, ${row.user_agent}, ${row.target},
                ${JSON.stringify(row.metadata)}::jsonb, ${prev_hash}, ${hash})`);
    }
    const last = vector.chain.at(-1)!;
    await store.db.execute(
      sql`update audit_chain_head set seq = (select max(seq) from audit_logs), hash = ${last.hash}`,
    );
    await fn({ store, audit: testAudit(store.db, createFakeClock(Date.UTC(2026, 0, 1, 13))) });
  } finally {
    await store.close();
  }
}

test("known-answer vector: verify accepts the published chain as stored in the database", async () => {
  await withVectorLog(async ({ audit }) => {
    assert.deepEqual(await audit.verify(), { ok: true, checked: 3 });
  });
});

test("rows written by the service hash as documented: recomputed with node:crypto from the stored columns", async () => {
  const store = await testStore();
  try {
    const clock = createFakeClock(Date.UTC(2026, 0, 1, 12, 0, 0, 123));
    const audit = testAudit(store.db, clock);
    await audit.record({
      eventType: "user.register",
      result: "success",
      ip: "203.0.113.7",
      target: "u1",
      metadata: { b: 1, a: { d: [1, 2], c: "é" } },
    });
    clock.advance(1500);
    await audit.record({
      eventType: "auth.login",
      result: "failure",
      actor: { userId: "u1" },
      userAgent: 'ua "x"',
      metadata: { reason: "bad_password" },
    });
    type Stored = {
      id: string;
      at: Date | string;
      event_type: string;
      result: string;
      actor_user_id: string | null;
      actor_key_id: string | null;
      ip: string | null;
      user_agent: string | null;
      target: string | null;
      metadata: Record<string, unknown>;
      prev_hash: string;
      hash: string;
    };
    const rows = rowsOf<Stored>(
      await store.db.execute(
        sql`select id, at, event_type, result, actor_user_id, actor_key_id, ip, user_agent, target, metadata, prev_hash, hash from audit_logs order by seq`,
      ),
    );
    assert.equal(rows.length, 2);
    let prev = "0".repeat(64);
    for (const r of rows) {
      const canonical = independentCanonical({
        id: r.id,
        at: new Date(r.at).toISOString(),
        event_type: r.event_type,
        result: r.result,
        actor: { user_id: r.actor_user_id, key_id: r.actor_key_id },
        ip: r.ip,
        user_agent: r.user_agent,
        target: r.target,
        metadata: r.metadata,
      });
      assert.equal(r.prev_hash, prev);
      assert.equal(r.hash, independentHash(prev, canonical));
      prev = r.hash;
    }
  } finally {
    await store.close();
  }
});

test("a middle row deleted and the next row relinked to the deleted row's predecessor is reported at the relinked row", async () => {
  await withVectorLog(async ({ store, audit }) => {
    await store.db.execute(sql`alter table audit_logs disable trigger audit_logs_no_update_delete`);
    const [first, middle, last] = vector.chain;
    await store.db.execute(sql`delete from audit_logs where id = ${middle!.row.id}`);
    // The relinked row now points at the first row: every link matches; only its own hash still covers the old prev_hash.
    await store.db.execute(sql`update audit_logs set prev_hash = ${first!.hash} where id = ${last!.row.id}`);
    assert.deepEqual(await audit.verify(), { ok: false, checked: 2, first_bad_id: last!.row.id });
  });
});

test("a row hashes the same before and after the database's JSON round trip (undefined fields dropped, undefined in arrays as null)", async () => {
  const metadata = { kept: 1, dropped: undefined, list: [1, undefined, "x"], nested: { also: undefined, n: null } };
  const row = { ...asChained(vector.chain[0]!.row), metadata: metadata as Record<string, unknown> };
  const roundTripped = { ...row, metadata: JSON.parse(JSON.stringify(metadata)) as Record<string, unknown> };
  assert.equal(canonicalRow(row), canonicalRow(roundTripped));
  assert.match(canonicalRow(row), /"list":\[1,null,"x"\]/);
  // And through the service: what record() hashed is what verify() recomputes from the stored row.
  const store = await testStore();
  try {
    const audit = testAudit(store.db, createFakeClock(Date.UTC(2026, 0, 1, 12)));
    await audit.record({ eventType: "user.update", result: "success", metadata });
    assert.deepEqual(await audit.verify(), { ok: true, checked: 1 });
  } finally {
    await store.close();
  }
});
