// What the database saw: a row-level trigger on every table copies each committed insert, update and
// delete into a change log (a rolled-back transaction leaves nothing there), so the fuzzer can tell,
// request by request, what a refused request changed. A snapshot (row count and hash of every table)
// checks the log from outside: across a batch in which every request was refused, no table may differ.
import { sql } from "drizzle-orm";
import type { Database } from "../../src/store/db.js";

const LOG = "fuzz_changes";

/** Tables whose change is the point of a refusal, not a breach of "changes nothing" (docs/reliability.md). */
export const APPEND_ONLY = new Set([
  // Every refused call to an audited route is recorded, and the chain head moves with it.
  "audit_logs",
  "audit_chain_head",
]);

export type Change = { id: number; table: string; op: string; columns: string[] };

async function rows<T>(db: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows?: T[] } | T[];
  return Array.isArray(result) ? result : (result.rows ?? []);
}

/** The application's tables (public schema, without the drizzle journal and the change log). */
export async function tables(db: Database): Promise<string[]> {
  const found = await rows<{ name: string }>(
    db,
    sql`select tablename as name from pg_tables where schemaname = 'public' and tablename <> ${LOG} order by 1`,
  );
  return found.map((r) => r.name);
}

/** Installs the change log and its trigger on every table. */
export async function installChangeLog(db: Database): Promise<void> {
  await db.execute(
    sql.raw(
      `create table if not exists ${LOG} (id bigserial primary key, tbl text not null, op text not null, old jsonb, new jsonb)`,
    ),
  );
  await db.execute(
    sql.raw(`create or replace function ${LOG}_record() returns trigger language plpgsql as $$
begin
  insert into ${LOG}(tbl, op, old, new) values (
    TG_TABLE_NAME, TG_OP,
    case when TG_OP <> 'INSERT' then to_jsonb(OLD) end,
    case when TG_OP <> 'DELETE' then to_jsonb(NEW) end);
  return null;
end $$`),
  );
  for (const table of await tables(db)) {
    if (APPEND_ONLY.has(table)) continue;
    await db.execute(sql.raw(`drop trigger if exists ${LOG}_t on "${table}"`));
    await db.execute(
      sql.raw(
        `create trigger ${LOG}_t after insert or update or delete on "${table}" for each row execute function ${LOG}_record()`,
      ),
    );
  }
}

/** A reader of the change log that returns what was committed since its last call. */
export function changeReader(db: Database): () => Promise<Change[]> {
  let last = 0;
  return async () => {
    const found = await rows<{ id: string | number; tbl: string; op: string; old: unknown; new: unknown }>(
      db,
      sql`select id, tbl, op, old, new from ${sql.identifier(LOG)} where id > ${last} order by id`,
    );
    const changes = found.map((r) => {
      const old = (typeof r.old === "string" ? JSON.parse(r.old) : r.old) as Record<string, unknown> | null;
      const now = (typeof r.new === "string" ? JSON.parse(r.new) : r.new) as Record<string, unknown> | null;
      const columns =
        old && now ? Object.keys(now).filter((k) => JSON.stringify(old[k]) !== JSON.stringify(now[k])) : [];
      return { id: Number(r.id), table: r.tbl, op: r.op, columns };
    });
    if (changes.length > 0) last = changes[changes.length - 1]!.id;
    return changes;
  };
}

/** Row count and hash of every table but the append-only ones and the change log. */
export async function snapshot(db: Database): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of await tables(db)) {
    if (APPEND_ONLY.has(table)) continue;
    const [row] = await rows<{ n: string | number; h: string }>(
      db,
      sql`select count(*) as n, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h from ${sql.identifier(table)} t`,
    );
    out[table] = `${row!.n}:${row!.h}`;
  }
  return out;
}

/** The tables whose count or hash differ between two snapshots. */
export function differing(a: Record<string, string>, b: Record<string, string>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
}
