import assert from "node:assert/strict";
import { test } from "node:test";
import { sql } from "drizzle-orm";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliDatabase, testAudit } from "../../test/harness.js";
import { auditCommand } from "./audit.js";
import { createFakeClock } from "../core/clock.js";

/** Runs the command with `env` applied to process.env, restoring it afterwards. */
async function run(
  env: Record<string, string>,
  argv: string[],
): Promise<{ code: number; out: string[]; err: string[] }> {
  const names = ["DATABASE_URL", "DATA_DIR", "LOG_LEVEL", "SECRET_KEY", "ENCRYPTION_KEYS", "METRICS_TOKEN", "NODE_ENV"];
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  for (const name of names) delete process.env[name];
  Object.assign(process.env, env);
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await auditCommand(
      argv,
      (line) => out.push(line),
      (line) => err.push(line),
    );
    return { code, out, err };
  } finally {
    for (const name of names) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}

test("audit verify exits 0 on an intact log and 1 once it was tampered with", async () => {
  const db = await cliDatabase();
  try {
    let store = await db.open();
    const audit = testAudit(store.db, createFakeClock());
    for (let i = 0; i < 3; i++)
      await audit.record({
        eventType: "auth.login",
        result: "success",
        actor: { userId: "alice" },
        ip: "203.0.113.7",
        metadata: { i },
      });
    const victim = (await audit.query({ limit: 3 })).events[1]!;
    await store.close();

    const intact = await run(db.env, ["verify"]);
    assert.deepEqual(intact, { code: 0, out: ["ok: 3 rows checked"], err: [] });

    store = await db.open();
    await store.db.execute(sql`alter table audit_logs disable trigger audit_logs_no_update_delete`);
    await store.db.execute(sql`update audit_logs set actor_user_id = 'mallory' where id = ${victim.id}`);
    await store.close();

    const tampered = await run(db.env, ["verify"]);
    assert.equal(tampered.code, 1);
    assert.deepEqual(tampered.out, [`TAMPERED: first bad row ${victim.id} (2 checked)`]);
  } finally {
    await db.cleanup();
  }
});

test("audit query prints a table or JSON lines, with filters", async () => {
  const db = await cliDatabase();
  try {
    const store = await db.open();
    const clock = createFakeClock(Date.UTC(2026, 0, 1));
    const audit = testAudit(store.db, clock);
    for (let i = 0; i < 4; i++) {
      await audit.record({
        eventType: i % 2 ? "auth.logout" : "auth.login",
        result: i === 3 ? "denied" : "success",
        actor: { userId: i < 2 ? "alice" : "bob" },
        ip: "203.0.113.7",
        target: "line\nbreak",
        metadata: { i },
      });
      clock.advance(60_000);
    }
    await store.close();

    const json = await run(db.env, ["query", "--user-id", "bob", "--json"]);
    assert.equal(json.code, 0);
    const events = json.out.map((line) => JSON.parse(line) as { metadata: { i: number }; actor: { user_id: string } });
    assert.deepEqual(
      events.map((e) => e.metadata.i),
      [3, 2],
    );

    const filtered = await run(db.env, [
      "query",
      "--event-type",
      "auth.login",
      "--result",
      "success",
      "--since",
      "2026-01-01T00:01:00Z",
      "--json",
    ]);
    assert.deepEqual(
      filtered.out.map((line) => (JSON.parse(line) as { metadata: { i: number } }).metadata.i),
      [2],
    );

    const limited = await run(db.env, ["query", "--limit", "3", "--until", "2026-01-02", "--json"]);
    assert.equal(limited.out.length, 3);

    const table = await run(db.env, ["query"]);
    assert.equal(table.code, 0);
    assert.match(table.out[0]!, /^AT\s+EVENT\s+RESULT\s+USER/);
    assert.equal(table.out.length, 5);
    assert.match(table.out[1]!, /2026-01-01T00:03:00.000Z\s+auth.logout\s+denied\s+bob/);
    // A stored newline cannot forge an extra output line.
    assert.ok(table.out.every((line) => !line.includes("\n")));
    assert.match(table.out[1]!, /line\\nbreak/);
  } finally {
    await db.cleanup();
  }
});

test("audit usage errors exit 2 with a clear message; --help exits 0", async () => {
  const env = { LOG_LEVEL: "silent", DATA_DIR: join(tmpdir(), "bulwark-audit-cli-unused") };
  for (const argv of [
    ["verify", "--bogus"],
    ["verify", "extra"],
    ["query", "--result", "maybe"],
    ["query", "--since", "yesterday"],
    ["query", "--limit", "0"],
    ["query", "--nope"],
    ["frobnicate"],
  ]) {
    const result = await run(env, argv);
    assert.equal(result.code, 2, argv.join(" "));
    assert.equal(result.out.length, 0, argv.join(" "));
    assert.ok(result.err.length > 0 && result.err[0]!.length > 10, argv.join(" "));
  }
  for (const argv of [["--help"], [], ["verify", "--help"], ["query", "--help"]]) {
    const result = await run(env, argv);
    assert.equal(result.code, 0, argv.join(" "));
    assert.match(result.out.join("\n"), /Usage: bulwark audit/);
  }
});
