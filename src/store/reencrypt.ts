// Re-encryption after a keyring rotation: every value of an encrypted column that names a key
// other than the active one is decrypted and sealed again under the active key, a batch at a time.
// Each update is a compare-and-set on the old envelope, so a value written meanwhile is never
// overwritten, and a run that stops half-way simply resumes: only rows still under an old key are read.
import { sql } from "drizzle-orm";
import type { Keyring } from "../core/crypto/keyring.js";
import { rowsOf, type Database } from "./db.js";

/**
 * A column holding keyring envelopes, bound to the context (table, column, primary key value);
 * `contextColumn` is the column name the envelopes are bound to when it differs from the SQL name.
 */
export type EncryptedColumn = { table: string; id: string; column: string; contextColumn?: string };

export type ReencryptResult = { table: string; column: string; reencrypted: number };

/** Re-encrypts one column under the keyring's active key; `onBatch` reports progress. */
export async function reencryptColumn(db: Database, keyring: Keyring, target: EncryptedColumn, options: { batch?: number; onBatch?: (done: number) => void } = {}): Promise<ReencryptResult> {
  const batch = options.batch ?? 500;
  const table = sql.identifier(target.table);
  const id = sql.identifier(target.id);
  const column = sql.identifier(target.column);
  const current = `bw1.${keyring.activeId}.%`;
  let done = 0;
  let after = "";
  for (;;) {
    // Keyset pagination on the primary key: rows that fail the compare-and-set are not read again.
    const rows = rowsOf<{ id: string; value: string }>(await db.execute(sql`
      select ${id} as id, ${column} as value from ${table}
      where ${column} is not null and ${column} not like ${current} and ${id} > ${after}
      order by ${id} limit ${batch}`));
    for (const row of rows) {
      const context = { table: target.table, column: target.contextColumn ?? target.column, row: row.id };
      const sealed = keyring.encrypt(keyring.decrypt(row.value, context), context);
      const updated = rowsOf(await db.execute(sql`update ${table} set ${column} = ${sealed} where ${id} = ${row.id} and ${column} = ${row.value} returning 1`));
      done += updated.length;
    }
    if (rows.length > 0) options.onBatch?.(done);
    if (rows.length < batch) return { table: target.table, column: target.column, reencrypted: done };
    after = rows.at(-1)!.id;
  }
}
