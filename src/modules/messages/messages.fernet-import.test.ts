// Threat: importing a Fernet-encrypted history accepts a tampered or foreign token (no HMAC check), loses authors or times, or leaves plaintext behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { messagesCommand } from "../../cli/messages.js";
import { parseKeyring } from "../../core/crypto/index.js";
import { rowsOf } from "../../store/db.js";
import { cliDatabase } from "../../../test/harness.js";
import { bodyContext } from "./service.js";

// The reference implementation: Python's `cryptography` (Debian python3-cryptography).
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const SCRIPT = String.raw`
import json, base64, time
from cryptography.fernet import Fernet, MultiFernet
old, new, foreign = Fernet.generate_key(), Fernet.generate_key(), Fernet.generate_key()
def tamper(token):
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[30] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode()
rows = [
  {"id": "1", "room": "general", "sender": "ada", "content": Fernet(old).encrypt_at_time("Hello from 2023".encode(), 1700000000).decode(), "created_at": "2023-11-14T22:13:20Z"},
  {"id": "2", "room": "general", "sender": "bob", "content": MultiFernet([Fernet(new), Fernet(old)]).encrypt_at_time("Salut, ça va ? 👋".encode(), 1700000100).decode()},
  {"id": "3", "sender": "ada", "recipient": "bob", "content": Fernet(new).encrypt("just us".encode()).decode(), "created_at": "1700000200"},
  {"id": "4", "room": "general", "sender": "ada", "content": tamper(Fernet(new).encrypt(b"tampered secret")), "created_at": "1700000300"},
  {"id": "5", "room": "general", "sender": "bob", "content": Fernet(foreign).encrypt(b"foreign secret").decode(), "created_at": "1700000400"},
  {"id": "6", "room": "general", "sender": "mallory", "content": Fernet(new).encrypt(b"who am i").decode(), "created_at": "1700000500"},
  {"id": "7", "room": "general", "sender": "ada", "content": Fernet(new).encrypt(b"bell\x07").decode(), "created_at": "1700000600"},
]
print(json.dumps({"keys": [new.decode(), old.decode()], "rows": rows}))
`;

test("messages import: Python-made Fernet tokens under a MultiFernet key list are re-sealed with authors and times; tampered, foreign-key and unknown-author rows are rejected with reasons", async () => {
  const made = JSON.parse(execFileSync(PYTHON, ["-c", SCRIPT], { encoding: "utf8" })) as {
    keys: string[];
    rows: Record<string, string>[];
  };
  const db = await cliDatabase();
  const dir = mkdtempSync(join(tmpdir(), "bulwark-fernet-"));
  try {
    const seeded = await db.open();
    try {
      const now = new Date();
      for (const name of ["ada", "bob"]) {
        await seeded.db.execute(
          sql`insert into users (id, username, username_key, email, email_key, created_at, updated_at) values (${`u-${name}`}, ${name}, ${name}, ${`${name}@example.com`}, ${`${name}@example.com`}, ${now}, ${now})`,
        );
      }
    } finally {
      await seeded.close();
    }
    const file = join(dir, "export.json");
    writeFileSync(file, JSON.stringify(made.rows));
    const keysFile = join(dir, "fernet.keys");
    writeFileSync(keysFile, made.keys.join("\n"));

    const run = async (args: string[]) => {
      const saved = { ...process.env };
      Object.assign(process.env, db.env);
      const out: string[] = [];
      const err: string[] = [];
      try {
        return {
          code: await messagesCommand(
            args,
            (l) => out.push(l),
            (l) => err.push(l),
          ),
          out,
          err,
        };
      } finally {
        for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
        Object.assign(process.env, saved);
      }
    };

    const dry = await run(["import", file, "--keys-file", keysFile, "--dry-run"]);
    assert.equal(dry.code, 1, "rejects make the exit code 1");
    assert.ok(
      dry.out.at(-1)!.startsWith("would import 3 of 7 messages into 2 conversations; 4 rejected"),
      dry.out.join("\n"),
    );

    const result = await run(["import", file, "--keys-file", keysFile]);
    const text = result.out.join("\n");
    assert.match(text, /rejected row 4 \(id 4\): HMAC does not verify/);
    assert.match(text, /rejected row 5 \(id 5\): HMAC does not verify/);
    assert.match(text, /rejected row 6 \(id 6\): unknown sender "mallory"/);
    assert.match(text, /rejected row 7 \(id 7\): the decrypted text is not a valid message/);
    assert.ok(!text.includes("secret") && !result.err.join("\n").includes("secret"), "reasons never carry plaintext");
    assert.ok(result.out.at(-1)!.startsWith("imported 3 of 7 messages into 2 conversations"));

    const store = await db.open();
    try {
      const keyring = parseKeyring(db.env.ENCRYPTION_KEYS!);
      const rows = rowsOf<{
        id: string;
        conversation_id: string;
        author_id: string;
        body: string;
        created_at: Date | string;
        type: string;
        title: string | null;
      }>(
        await store.db.execute(sql`
        select m.id, m.conversation_id, m.author_id, m.body, m.created_at, c.type, c.title from messages m join conversations c on c.id = m.conversation_id order by m.created_at`),
      );
      assert.equal(rows.length, 3);
      const plain = rows.map((r) => ({
        author: r.author_id,
        body: keyring.decryptString(r.body, bodyContext(r.conversation_id, r.id)),
        at: new Date(r.created_at).toISOString(),
        type: r.type,
        title: r.title,
      }));
      assert.deepEqual(plain, [
        { author: "u-ada", body: "Hello from 2023", at: "2023-11-14T22:13:20.000Z", type: "group", title: "general" },
        {
          author: "u-bob",
          body: "Salut, ça va ? 👋",
          at: new Date(1700000100 * 1000).toISOString(),
          type: "group",
          title: "general",
        },
        {
          author: "u-ada",
          body: "just us",
          at: new Date(1700000200 * 1000).toISOString(),
          type: "direct",
          title: null,
        },
      ]);
      for (const r of rows) assert.match(r.body, /^bw1\./);
      const dump = JSON.stringify(rowsOf(await store.db.execute(sql`select * from messages`)));
      assert.ok(!dump.includes("Hello from 2023") && !dump.includes("gAAAA"), "no plaintext and no Fernet token kept");
      const members = rowsOf<{ conversation_id: string; user_id: string }>(
        await store.db.execute(sql`select conversation_id, user_id from conversation_members order by user_id`),
      );
      assert.equal(members.filter((m) => m.conversation_id === rows[0]!.conversation_id).length, 2);
      const audit = rowsOf<{ metadata: unknown }>(
        await store.db.execute(sql`select metadata from audit_logs where event_type = 'message.import'`),
      );
      assert.deepEqual(
        audit.map((a) => a.metadata),
        [{ via: "cli", read: 7, imported: 3, conversations: 2, rejected: 4 }],
      );
    } finally {
      await store.close();
    }

    // The wrong key list: every token is rejected, nothing is written.
    writeFileSync(keysFile, made.keys.slice(1).join(","));
    const wrong = await run(["import", file, "--keys-file", keysFile, "--dry-run"]);
    assert.match(
      wrong.out.join("\n"),
      /rejected row 2 \(id 2\): HMAC does not verify|rejected row 3 \(id 3\): HMAC does not verify/,
    );
  } finally {
    await db.cleanup();
  }
});
