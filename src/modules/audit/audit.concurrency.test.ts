import assert from "node:assert/strict";
import { test } from "node:test";
import { sql } from "drizzle-orm";
import { needs, storeUrl, testAudit, testStore, TEST_DATABASE_URL } from "../../../test/harness.js";
import { systemClock } from "../../core/clock.js";
import { openStore, rowsOf } from "../../store/db.js";

test("50 concurrent records keep the chain linear", async () => {
  const store = await testStore();
  try {
    const audit = testAudit(store.db, systemClock);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        audit.record({ eventType: "load.test", result: "success", metadata: { i } }),
      ),
    );
    assert.deepEqual(await audit.verify(), { ok: true, checked: 50 });
    const [count] = rowsOf<{ n: string | number }>(
      await store.db.execute(sql`select count(distinct prev_hash) as n from audit_logs`),
    );
    assert.equal(Number(count!.n), 50);
  } finally {
    await store.close();
  }
});

test(
  "two instances (separate pools on one PostgreSQL) writing at once keep one chain",
  { skip: needs("postgres") },
  async () => {
    const store = await testStore({ kind: "postgres" });
    const other = await openStore({ databaseUrl: storeUrl(store) });
    try {
      const a = testAudit(store.db, systemClock);
      const b = testAudit(other.db, systemClock);
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 === 0 ? a : b).record({ eventType: "load.test", result: "success", metadata: { i } }),
        ),
      );
      assert.deepEqual(await a.verify(), { ok: true, checked: 50 });
      assert.deepEqual(await b.verify(), { ok: true, checked: 50 });
    } finally {
      await other.close();
      await store.close();
    }
  },
);

test("verify reports ok while other writers keep appending", async () => {
  const store = await testStore();
  const other = TEST_DATABASE_URL ? await openStore({ databaseUrl: storeUrl(store) }) : undefined;
  try {
    const writer = testAudit((other ?? store).db, systemClock);
    const reader = testAudit(store.db, systemClock);
    for (let i = 0; i < 20; i++) await writer.record({ eventType: "load.test", result: "success", metadata: { i } });
    let writing = true;
    const writes = (async () => {
      let n = 0;
      while (writing || n < 5) await writer.record({ eventType: "load.test", result: "success", metadata: { n: n++ } });
      return n;
    })();
    for (let round = 0; round < 5; round++) {
      const outcome = await reader.verify();
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
    }
    writing = false;
    const written = await writes;
    assert.deepEqual(await reader.verify(), { ok: true, checked: 20 + written });
  } finally {
    await other?.close();
    await store.close();
  }
});

test("verify walks a log longer than one batch", async () => {
  const store = await testStore();
  try {
    const audit = testAudit(store.db, systemClock);
    for (let i = 0; i < 1010; i++) await audit.record({ eventType: "load.test", result: "success", metadata: { i } });
    assert.deepEqual(await audit.verify(), { ok: true, checked: 1010 });
  } finally {
    await store.close();
  }
});
