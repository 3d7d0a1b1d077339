// `bulwark users import` of a large fastapi-users export: the time from the command's start to its exit on a fresh
// database, on PGlite (a fresh DATA_DIR) and, with BENCH_DATABASE_URL, on PostgreSQL (a new database, dropped after).
// Nothing is hashed: every row carries the same bcrypt hash, as the import keeps hashes as they are.
// Run alone: `node --import tsx bench/users-import.ts [--rows 100000]`.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { hashSync } from "@node-rs/bcrypt";
import pg from "pg";
import { captureOutput } from "../src/cli/output.js";
import { usersCommand } from "../src/cli/users.js";
import { loadConfig } from "../src/config/load.js";
import { benchSecrets, isMain, textTable } from "./lib.js";

/** Writes a headered fastapi-users CSV of `rows` users; returns its path. */
function exportFile(dir: string, rows: number): string {
  const hash = hashSync("correct horse battery staple", 4).replace("$2b$04$", "$2b$12$");
  const lines = ["id,email,hashed_password,is_active,is_superuser,is_verified"];
  for (let i = 0; i < rows; i++) lines.push(`${randomUUID()},user${i}@example.com,${hash},true,false,${i % 2 === 0}`);
  const path = join(dir, "users.csv");
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

/** Runs the import once against `env`'s database; returns seconds and the command's last line. */
async function timedImport(file: string, env: Record<string, string>): Promise<{ seconds: number; summary: string }> {
  const config = loadConfig(
    { LOG_LEVEL: "silent", ...(benchSecrets() as Record<string, string>), ...env },
    {
      generateDevSecrets: false,
    },
  );
  const out = captureOutput();
  const started = performance.now();
  const code = await usersCommand(["import", file], out, () => config, process.stderr);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`import failed: ${[...out.lines, ...out.errors].join("\n")}`);
  return { seconds, summary: out.lines.find((l) => l.startsWith("imported")) ?? "" };
}

/** Imports `rows` users on PGlite and, with BENCH_DATABASE_URL, on PostgreSQL; prints a table. */
export async function runUsersImportBench(rows: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-import-bench-"));
  const results: string[][] = [];
  try {
    const file = exportFile(dir, rows);
    const pglite = await timedImport(file, { DATA_DIR: join(dir, "data") });
    results.push(["PGlite", `${pglite.seconds.toFixed(1)} s`, `${Math.round(rows / pglite.seconds)}`, pglite.summary]);
    const url = process.env["BENCH_DATABASE_URL"];
    if (url) {
      const name = `bulwark_import_bench_${Date.now()}`;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`create database ${name}`);
      try {
        const target = new URL(url);
        target.pathname = `/${name}`;
        const postgres = await timedImport(file, { DATA_DIR: join(dir, "pg"), DATABASE_URL: target.toString() });
        results.push([
          "PostgreSQL",
          `${postgres.seconds.toFixed(1)} s`,
          `${Math.round(rows / postgres.seconds)}`,
          postgres.summary,
        ]);
      } finally {
        await admin.query(`drop database ${name} with (force)`);
        await admin.end();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`\nusers import of ${rows} rows (migrations included, fresh database)\n`);
  process.stdout.write(`${textTable([["database", "time", "rows/s", "result"], ...results])}\n`);
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { rows: { type: "string", default: "100000" } } });
  await runUsersImportBench(Number(values.rows));
}
