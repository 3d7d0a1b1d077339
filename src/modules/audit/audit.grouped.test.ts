// Attack: a flood of refused logins whose audit rows are written one transaction each, so the flood
// buys database work on the shared event loop; grouping them must not lose a row or break the chain.
import assert from "node:assert/strict";
import { test } from "node:test";
import { sql } from "drizzle-orm";
import { needs, storeUrl, testAudit, testStore } from "../../../test/harness.js";
import { systemClock } from "../../core/clock.js";
import { openStore, rowsOf } from "../../store/db.js";

const count = async (store: Awaited<ReturnType<typeof testStore>>) => {
  const [row] = rowsOf<{ n: string | number }>(await store.db.execute(sql`select count(*) as n from audit_logs`));
  return Number(row!.n);
};

test("60 grouped events interleaved with ordinary ones: every row stored, the chain verifies, few transactions", async () => {
  const store = await testStore();
  try {
    const audit = testAudit(store.db, systemClock);
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 10 === 0
          ? audit.record({ eventType: "load.test", result: "success", metadata: { i } })
          : audit.recordGrouped({ eventType: "auth.login", result: "failure", metadata: { i } }),
      ),
    );
    assert.deepEqual(await audit.verify(), { ok: true, checked: 60 });
    const seen = await audit.query({ eventType: "auth.login", limit: 200 });
    assert.deepEqual(
      seen.events.map((e) => e.metadata["i"]).sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 10 !== 0),
    );
    // 54 grouped events recorded in one tick share their transactions: rows with the same time and
    // consecutive seqs. Without grouping, each would be a transaction of its own.
    const [groups] = rowsOf<{ n: string | number }>(
      await store.db.execute(sql`select count(distinct at) as n from audit_logs where event_type = 'auth.login'`),
    );
    assert.ok(Number(groups!.n) <= 3, `54 grouped events written in ${groups!.n} groups`);
  } finally {
    await store.close();
  }
});

test("a grouped event is stored before its promise resolves, and flush writes what waits", async () => {
  const store = await testStore();
  try {
    const audit = testAudit(store.db, systemClock);
    await audit.recordGrouped({ eventType: "auth.login", result: "denied", metadata: { reason: "locked" } });
    assert.equal(await count(store), 1, "stored when the caller answers");
    const pending = audit.recordGrouped({ eventType: "auth.login", result: "failure", metadata: {} });
    await audit.flush();
    assert.equal(await count(store), 2, "flush wrote the waiting event (the app calls it before the database closes)");
    await pending;
    assert.deepEqual(await audit.verify(), { ok: true, checked: 2 });
  } finally {
    await store.close();
  }
});

test("a bad event type is refused at once, like record", async () => {
  const store = await testStore();
  try {
    const audit = testAudit(store.db, systemClock);
    assert.throws(
      () => void audit.recordGrouped({ eventType: "no.such.event" as "load.test", result: "failure" }),
      /undeclared event type/,
    );
    await audit.flush();
    assert.equal(await count(store), 0);
  } finally {
    await store.close();
  }
});

test("two instances grouping at once on one PostgreSQL keep one chain", { skip: needs("postgres") }, async () => {
  const store = await testStore({ kind: "postgres" });
  const other = await openStore({ databaseUrl: storeUrl(store) });
  try {
    const a = testAudit(store.db, systemClock);
    const b = testAudit(other.db, systemClock);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 3 === 0
          ? (i % 2 === 0 ? a : b).record({ eventType: "load.test", result: "success", metadata: { i } })
          : (i % 2 === 0 ? a : b).recordGrouped({ eventType: "auth.login", result: "failure", metadata: { i } }),
      ),
    );
    assert.deepEqual(await a.verify(), { ok: true, checked: 40 });
  } finally {
    await other.close();
    await store.close();
  }
});
