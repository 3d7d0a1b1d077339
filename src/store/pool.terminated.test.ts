// Threat: a connection terminated while checked out (pg_terminate_backend, a restart) throws an
// unhandled 'error' event that kills the process, or leaks its pool slot for good when its holder
// never releases it (drizzle does not release a client whose `begin` failed): ten leaks and the
// pool is empty forever. Runs on a private PostgreSQL, never the shared one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { isDatabaseUnavailable } from "../core/db-errors.js";
import { openStore, rowsOf } from "./db.js";
import { postgresBinaries, startPrivatePostgres } from "../../test/private-postgres.js";

const binaries = postgresBinaries();
const skip = "skip" in binaries ? binaries.skip : false;

test(
  "a checked-out connection that dies is reported once and given back to the pool, even if never released",
  { skip },
  async () => {
    const server = await startPrivatePostgres((binaries as { bin: string }).bin);
    const reports: Error[] = [];
    const store = await openStore({ databaseUrl: server.url, onError: (error) => reports.push(error) });
    try {
      if (store.driver.kind !== "postgres") throw new Error("expected PostgreSQL");
      const pool = store.driver.pool;
      const holders = await Promise.all(Array.from({ length: 3 }, () => pool.connect()));
      const pids = await Promise.all(
        holders.map(async (c) => (await c.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid),
      );
      await server.query("select pg_terminate_backend(pid) from unnest($1::int[]) as pid", [pids]);
      // Nobody releases the holders: the pool takes the dead connections back by itself.
      for (let i = 0; i < 600 && pool.totalCount > 0; i++) await sleep(10);
      assert.equal(pool.totalCount, 0, "the dead connections left the pool");
      // A holder's late release is harmless, and its next query fails as an outage, not a crash.
      const late = await holders[0]!.query("select 1").then(
        () => null,
        (error: unknown) => error,
      );
      assert.ok(isDatabaseUnavailable(late), `an outage error, got ${String(late)}`);
      for (const holder of holders) holder.release();
      assert.equal(reports.length, 1, "one report for the burst");
      // The pool serves again at full size.
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          store.db.transaction(async (tx) => rowsOf<{ one: number }>(await tx.execute(sql`select 1 as one`))[0]!.one),
        ),
      );
      assert.deepEqual(results, Array(10).fill(1));
    } finally {
      await store.close();
      server.destroy();
    }
  },
);
