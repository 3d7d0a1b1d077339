import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { openStore, rowsOf } from "./db.js";
import { migrate } from "./migrate.js";
import { storeUrl, testStore, TEST_DATABASE_URL, needs } from "../../test/harness.js";

async function tables(store: Awaited<ReturnType<typeof testStore>>): Promise<string[]> {
  const result = await store.db.execute(
    sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
  );
  return rowsOf<{ table_name: string }>(result).map((r) => r.table_name);
}

for (const kind of TEST_DATABASE_URL ? (["pglite", "postgres"] as const) : (["pglite"] as const)) {
  test(`${kind}: migrations build the schema from an empty database, and a second run does nothing`, async () => {
    const store = await testStore({ kind, migrate: false });
    try {
      assert.deepEqual(await tables(store), []);
      await migrate(store);
      const after = await tables(store);
      assert.ok(after.includes("audit_logs"), `tables: ${after.join(", ")}`);
      await migrate(store);
      assert.deepEqual(await tables(store), after);
    } finally {
      await store.close();
    }
  });
}

for (const kind of TEST_DATABASE_URL ? (["pglite", "postgres"] as const) : (["pglite"] as const)) {
  test(`${kind}: a database one release behind gets the newest migration (the up-to-date check reads the record)`, async () => {
    const store = await testStore({ kind, migrate: false });
    try {
      await migrate(store);
      const all = await tables(store);
      // The database of the release before the newest migration: its table and its record gone.
      await store.db.execute(
        sql`delete from drizzle.__drizzle_migrations where created_at = (select max(created_at) from drizzle.__drizzle_migrations)`,
      );
      await store.db.execute(sql`drop table invitations`);
      assert.ok(!(await tables(store)).includes("invitations"));
      await migrate(store);
      assert.deepEqual(await tables(store), all);
    } finally {
      await store.close();
    }
  });
}

test(
  "postgres: several instances migrating at once apply each migration exactly once",
  { skip: needs("postgres") },
  async () => {
    const first = await testStore({ kind: "postgres", migrate: false });
    const others = await Promise.all([1, 2, 3].map(() => openStore({ databaseUrl: storeUrl(first) })));
    try {
      await Promise.all([first, ...others].map((store) => migrate(store)));
      const applied = rowsOf<{ n: string }>(
        await first.db.execute(sql`select count(*) as n from drizzle.__drizzle_migrations`),
      )[0]!.n;
      const { readFileSync } = await import("node:fs");
      const { MIGRATIONS_FOLDER } = await import("./migrate.js");
      const journal = JSON.parse(readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, "utf8")) as {
        entries: unknown[];
      };
      assert.equal(Number(applied), journal.entries.length);
    } finally {
      for (const store of others) await store.close();
      await first.close();
    }
  },
);
