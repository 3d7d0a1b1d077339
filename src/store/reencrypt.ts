// Re-encryption after a keyring rotation: every value of an encrypted column that names a key
// other than the active one is decrypted and sealed again under the active key, a batch at a time.
// Each update is a compare-and-set on the old envelope, so a value written meanwhile is never
// overwritten, and a run that stops half-way simply resumes: only rows still under an old key are read.
import { sql } from "drizzle-orm";
import type { Keyring } from "../core/crypto/keyring.js";
import { rowsOf, type Database } from "./db.js";

/**
 * A column holding keyring envelopes, bound to the context (table, column, primary key value);
 * `contextColumn` is the column name the envelopes are bound to when it differs from the SQL name;
 * `rowColumns`, when given, are the columns whose values, joined with ":", are the context's row
 * (a message binds its conversation id and its own id).
 */
export type EncryptedColumn = {
  table: string;
  id: string;
  column: string;
  contextColumn?: string;
  rowColumns?: readonly string[];
};

/** The SQL of a column's context row: the primary key, or the declared columns joined with ":". */
function contextRow(target: EncryptedColumn) {
  if (!target.rowColumns || target.rowColumns.length === 0) return sql.identifier(target.id);
  return sql`concat_ws(':', ${sql.join(
    target.rowColumns.map((c) => sql.identifier(c)),
    sql`, `,
  )})`;
}

export type ReencryptResult = { table: string; column: string; reencrypted: number };

/** Re-encrypts one column under the keyring's active key; `onBatch` reports progress. */
export async function reencryptColumn(
  db: Database,
  keyring: Keyring,
  target: EncryptedColumn,
  options: { batch?: number; onBatch?: (done: number) => void } = {},
): Promise<ReencryptResult> {
  const batch = options.batch ?? 500;
  const table = sql.identifier(target.table);
  const id = sql.identifier(target.id);
  const column = sql.identifier(target.column);
  const current = `bw1.${keyring.activeId}.%`;
  let done = 0;
  let after = "";
  for (;;) {
    // Keyset pagination on the primary key: rows that fail the compare-and-set are not read again.
    const rows = rowsOf<{ id: string; context_row: string; value: string }>(
      await db.execute(sql`
      select ${id} as id, ${contextRow(target)} as context_row, ${column} as value from ${table}
      where ${column} is not null and ${column} not like ${current} and ${id} > ${after}
      order by ${id} limit ${batch}`),
    );
    for (const row of rows) {
      const context = { table: target.table, column: target.contextColumn ?? target.column, row: row.context_row };
      const sealed = keyring.encrypt(keyring.decrypt(row.value, context), context);
      const updated = rowsOf(
        await db.execute(
          sql`update ${table} set ${column} = ${sealed} where ${id} = ${row.id} and ${column} = ${row.value} returning 1`,
        ),
      );
      done += updated.length;
    }
    if (rows.length > 0) options.onBatch?.(done);
    if (rows.length < batch) return { table: target.table, column: target.column, reencrypted: done };
    after = rows.at(-1)!.id;
  }
}

/** How many values of the column each key id holds (from the envelopes' headers; nothing is decrypted). */
export async function countByKey(db: Database, target: EncryptedColumn): Promise<Record<string, number>> {
  const column = sql.identifier(target.column);
  const rows = rowsOf<{ key_id: string; n: string | number }>(
    await db.execute(sql`
    select split_part(${column}, '.', 2) as key_id, count(*) as n from ${sql.identifier(target.table)}
    where ${column} is not null group by 1 order by 1`),
  );
  return Object.fromEntries(rows.map((r) => [r.key_id, Number(r.n)]));
}
