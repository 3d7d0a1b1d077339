// Attack: someone with database access edits, inserts or deletes audit rows to hide their tracks.
import assert from "node:assert/strict";
import { test } from "node:test";
import { eq, sql } from "drizzle-orm";
import { testAudit, testStore } from "../../../test/harness.js";
import { createFakeClock } from "../../core/clock.js";
import { newId } from "../../core/ids.js";
import { rowsOf, type Store } from "../../store/db.js";
import { rowHash } from "./chain.js";
import { CHAIN_HEAD_MARKER, type AuditService } from "./index.js";
import { auditLogs } from "./tables.js";

type Row = { id: string; seq: number; hash: string; prev_hash: string };

/** A fresh store holding five chained events; the attacker then works on it with raw SQL. */
async function withLog(fn: (ctx: { store: Store; audit: AuditService; rows: Row[] }) => Promise<void>): Promise<void> {
  const store = await testStore();
  const clock = createFakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  const audit = testAudit(store.db, clock);
  try {
    for (let i = 0; i < 5; i++) {
      await audit.record({
        eventType: "auth.login",
        result: i === 2 ? "failure" : "success",
        actor: { userId: `user${i}` },
        ip: "203.0.113.7",
        metadata: { attempt: i },
      });
      clock.advance(1000);
    }
    const rows = rowsOf<{ id: string; seq: string | number; hash: string; prev_hash: string }>(
      await store.db.execute(sql`select id, seq, hash, prev_hash from audit_logs order by seq`),
    ).map((r) => ({ ...r, seq: Number(r.seq) }));
    assert.deepEqual(await audit.verify(), { ok: true, checked: 5 });
    await fn({ store, audit, rows });
  } finally {
    await store.close();
  }
}

/** Asserts the database refused a statement with a message matching `pattern` (drizzle wraps the driver's error as `cause`). */
async function refused(query: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(query, (error: unknown) =>
    pattern.test(String((error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message)),
  );
}

/** What a database owner can do: switch the append-only guards off. */
async function disableGuards(store: Store): Promise<void> {
  await store.db.execute(sql`alter table audit_logs disable trigger audit_logs_no_update_delete`);
  await store.db.execute(sql`alter table audit_chain_head disable trigger audit_chain_head_guard`);
}

test("the append-only trigger refuses UPDATE, DELETE and TRUNCATE while enabled", async () => {
  await withLog(async ({ store, audit, rows }) => {
    const id = rows[1]!.id;
    await refused(
      store.db.execute(sql`update audit_logs set metadata = '{}'::jsonb where id = ${id}`),
      /append-only: UPDATE refused/,
    );
    await refused(store.db.execute(sql`delete from audit_logs where id = ${id}`), /append-only: DELETE refused/);
    await refused(store.db.execute(sql`truncate audit_logs`), /append-only: TRUNCATE refused/);
    await refused(store.db.execute(sql`delete from audit_chain_head`), /only moves forward: DELETE refused/);
    await refused(store.db.execute(sql`update audit_chain_head set seq = 1`), /only moves forward: UPDATE refused/);
    await refused(store.db.execute(sql`truncate audit_chain_head`), /only moves forward: TRUNCATE refused/);
    assert.deepEqual(await audit.verify(), { ok: true, checked: 5 });
  });
});

test("an edited row is reported by its id", async () => {
  await withLog(async ({ store, audit, rows }) => {
    await disableGuards(store);
    const target = rows[2]!;
    await store.db.execute(sql`update audit_logs set metadata = '{"attempt": 99}'::jsonb where id = ${target.id}`);
    assert.deepEqual(await audit.verify(), { ok: false, checked: 3, first_bad_id: target.id });
  });
});

test("an edited row whose hash was recomputed breaks the link to the next row", async () => {
  await withLog(async ({ store, audit, rows }) => {
    await disableGuards(store);
    const target = rows[2]!;
    const [stored] = await store.db.select().from(auditLogs).where(eq(auditLogs.id, target.id));
    const edited = { ...stored!, result: "success" as const };
    await store.db.execute(
      sql`update audit_logs set result = 'success', hash = ${rowHash(edited.prevHash, edited)} where id = ${target.id}`,
    );
    assert.deepEqual(await audit.verify(), { ok: false, checked: 4, first_bad_id: rows[3]!.id });
  });
});

test("a deleted middle row is reported at the first row after the gap", async () => {
  await withLog(async ({ store, audit, rows }) => {
    await disableGuards(store);
    await store.db.execute(sql`delete from audit_logs where id = ${rows[2]!.id}`);
    assert.deepEqual(await audit.verify(), { ok: false, checked: 3, first_bad_id: rows[3]!.id });
  });
});

test("a deleted first row is detected: the next row does not link to genesis", async () => {
  await withLog(async ({ store, audit, rows }) => {
    await disableGuards(store);
    await store.db.execute(sql`delete from audit_logs where id = ${rows[0]!.id}`);
    assert.deepEqual(await audit.verify(), { ok: false, checked: 1, first_bad_id: rows[1]!.id });
  });
});

test("a forged row inserted in the middle, with a plausible hash, is detected", async () => {
  await withLog(async ({ store, audit, rows }) => {
    await disableGuards(store);
    // Make room between rows 1 and 2 (seq is unique), then insert a row that links to row 1 and hashes correctly.
    const before = rows[1]!;
    const gapSeq = rows[2]!.seq;
    await store.db.execute(sql`alter table audit_logs alter column seq set generated by default`);
    await store.db.execute(sql`update audit_logs set seq = seq + 1000 where seq >= ${gapSeq}`);
    const forged = {
      id: newId(),
      at: new Date(Date.UTC(2026, 0, 1, 12, 0, 1, 500)),
      eventType: "auth.login",
      result: "success",
      actorUserId: "innocent",
      actorKeyId: null,
      ip: "198.51.100.9",
      userAgent: null,
      target: null,
      metadata: {},
    };
    const hash = rowHash(before.hash, forged);
    await store.db
      .execute(sql`insert into audit_logs (id, seq, at, event_type, result, actor_user_id, ip, metadata, prev_hash, hash)
      overriding system value values (${forged.id}, ${gapSeq}, ${forged.at.toISOString()}, ${forged.eventType}, ${forged.result}, ${forged.actorUserId}, ${forged.ip}, '{}'::jsonb, ${before.hash}, ${hash})`);
    const outcome = await audit.verify();
    assert.equal(outcome.ok, false);
    // The forged row itself links and hashes correctly; the honest row after it no longer links.
    assert.equal(outcome.first_bad_id, rows[2]!.id);
  });
});

test("a forged row appended after the newest, with a plausible hash, is detected by the head", async () => {
  await withLog(async ({ store, audit, rows }) => {
    const last = rows.at(-1)!;
    const forged = {
      id: newId(),
      at: new Date(Date.UTC(2026, 0, 1, 13)),
      eventType: "auth.login",
      result: "success",
      actorUserId: "innocent",
      actorKeyId: null,
      ip: null,
      userAgent: null,
      target: null,
      metadata: { attempt: 5 },
    };
    const hash = rowHash(last.hash, forged);
    // An INSERT needs no disabled trigger: the append-only guard does not stop it; the chain head does.
    await store.db
      .execute(sql`insert into audit_logs (id, at, event_type, result, actor_user_id, metadata, prev_hash, hash)
      values (${forged.id}, ${forged.at.toISOString()}, ${forged.eventType}, ${forged.result}, ${forged.actorUserId}, '{"attempt": 5}'::jsonb, ${last.hash}, ${hash})`);
    assert.deepEqual(await audit.verify(), { ok: false, checked: 6, first_bad_id: forged.id });
  });
});

test("deleting the newest row is detected: the chain head points past the end", async () => {
  await withLog(async ({ store, audit, rows }) => {
    await disableGuards(store);
    await store.db.execute(sql`delete from audit_logs where id = ${rows[4]!.id}`);
    assert.deepEqual(await audit.verify(), { ok: false, checked: 4, first_bad_id: CHAIN_HEAD_MARKER });
  });
});

test("deleting every row is detected", async () => {
  await withLog(async ({ store, audit }) => {
    await disableGuards(store);
    await store.db.execute(sql`delete from audit_logs`);
    assert.deepEqual(await audit.verify(), { ok: false, checked: 0, first_bad_id: CHAIN_HEAD_MARKER });
  });
});

test("deleting the newest row and rewinding the head without its hash is detected", async () => {
  await withLog(async ({ store, audit, rows }) => {
    await disableGuards(store);
    // (An attacker who copies the previous row's seq and hash into the head rewinds the chain
    // consistently: only a copy of the head kept outside the database catches that.)
    await store.db.execute(sql`delete from audit_logs where id = ${rows[4]!.id}`);
    await store.db.execute(sql`update audit_chain_head set seq = ${rows[3]!.seq}, hash = ${"0".repeat(64)}`);
    assert.deepEqual(await audit.verify(), { ok: false, checked: 4, first_bad_id: rows[3]!.id });
  });
});

test("deleting the chain head is detected", async () => {
  await withLog(async ({ store, audit }) => {
    await disableGuards(store);
    await store.db.execute(sql`delete from audit_chain_head`);
    assert.deepEqual(await audit.verify(), { ok: false, checked: 5, first_bad_id: CHAIN_HEAD_MARKER });
    // And recording refuses to extend a chain without its head (fail closed).
    await assert.rejects(audit.record({ eventType: "auth.login", result: "success" }), /head is missing/);
  });
});
