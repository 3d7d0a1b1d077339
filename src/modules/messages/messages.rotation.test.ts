// Threat: an old ENCRYPTION_KEYS key leaks, or must be retired, and message bodies stay readable only under it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { keysCommand } from "../../cli/keys.js";
import { generateKeyringEntry, parseKeyring } from "../../core/crypto/index.js";
import { rowsOf } from "../../store/db.js";
import { cliDatabase } from "../../../test/harness.js";
import { bodyContext } from "./service.js";

const NAMES = [
  "DATABASE_URL",
  "DATA_DIR",
  "LOG_LEVEL",
  "SECRET_KEY",
  "ENCRYPTION_KEYS",
  "METRICS_TOKEN",
  "NODE_ENV",
  "REDIS_URL",
];

/** Runs `bulwark keys …` with `env` as the environment. */
async function keys(env: Record<string, string>, argv: string[]) {
  const saved = Object.fromEntries(NAMES.map((name) => [name, process.env[name]]));
  for (const name of NAMES) delete process.env[name];
  Object.assign(process.env, env);
  const out: string[] = [];
  const err: string[] = [];
  try {
    return {
      code: await keysCommand(
        argv,
        (l) => out.push(l),
        (l) => err.push(l),
      ),
      out,
      err,
    };
  } finally {
    for (const name of NAMES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}

test("keys rotate-encryption re-encrypts every message body, resumably, and the new key alone then reads them", async () => {
  const db = await cliDatabase();
  try {
    const oldKey = db.env.ENCRYPTION_KEYS!;
    const old = parseKeyring(oldKey);
    const bodies = new Map<string, { conversation: string; text: string }>();
    const seeded = await db.open();
    try {
      const now = new Date();
      await seeded.db.execute(
        sql`insert into users (id, username, username_key, email, email_key, created_at, updated_at) values ('u1', 'grace', 'grace', 'grace@example.com', 'grace@example.com', ${now}, ${now})`,
      );
      for (const conv of ["c1", "c2"]) {
        await seeded.db.execute(
          sql`insert into conversations (id, type, created_by, created_at) values (${conv}, 'group', 'u1', ${now})`,
        );
        for (let i = 0; i < 7; i++) {
          const id = `${conv}-m${i}`;
          const text = `message ${i} of ${conv} ✓`;
          bodies.set(id, { conversation: conv, text });
          await seeded.db.execute(
            sql`insert into messages (id, conversation_id, author_id, body, created_at) values (${id}, ${conv}, 'u1', ${old.encrypt(text, bodyContext(conv, id))}, ${now})`,
          );
        }
      }
    } finally {
      await seeded.close();
    }
    const newKey = generateKeyringEntry("k2");
    const rotated = { ...db.env, ENCRYPTION_KEYS: `${newKey},${oldKey}` };
    const before = await keys(rotated, ["rotate-encryption", "--status"]);
    assert.equal(before.code, 0, before.err.join("\n"));
    assert.ok(before.out.includes("messages.body: t1: 14"), before.out.join("\n"));

    const first = await keys(rotated, ["rotate-encryption", "--batch", "5"]);
    assert.equal(first.code, 0, first.err.join("\n"));
    assert.ok(first.out.includes("messages.body: 14 re-encrypted"), first.out.join("\n"));
    assert.ok(
      first.err.some((line) => /^messages\.body: 5 re-encrypted so far/.test(line)),
      "progress per batch",
    );
    const again = await keys(rotated, ["rotate-encryption"]);
    assert.ok(again.out.includes("messages.body: 0 re-encrypted"), "resumable: nothing left the second time");
    const status = await keys(rotated, ["rotate-encryption", "--status"]);
    assert.ok(status.out.includes("messages.body: k2 (active): 14"), status.out.join("\n"));

    const store = await db.open();
    try {
      const onlyNew = parseKeyring(newKey);
      const rows = rowsOf<{ id: string; conversation_id: string; body: string }>(
        await store.db.execute(sql`select id, conversation_id, body from messages`),
      );
      assert.equal(rows.length, 14);
      for (const row of rows) {
        assert.ok(row.body.startsWith("bw1.k2."));
        assert.equal(
          onlyNew.decryptString(row.body, bodyContext(row.conversation_id, row.id)),
          bodies.get(row.id)!.text,
        );
        assert.throws(
          () => old.decryptString(row.body, bodyContext(row.conversation_id, row.id)),
          "the old key opens nothing",
        );
      }
    } finally {
      await store.close();
    }
  } finally {
    await db.cleanup();
  }
});
