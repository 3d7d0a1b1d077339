// What the `users import` tests share: a database the command reaches (PGlite under a temporary DATA_DIR, or a
// fresh PostgreSQL database), files in a temporary directory, the command's output, and the app for logging in.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql, type SQL } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { createApp } from "../src/app.js";
import { captureOutput } from "../src/cli/output.js";
import { usersCommand } from "../src/cli/users.js";
import { loadConfig } from "../src/config/load.js";
import { rowsOf } from "../src/store/db.js";
import { cliDatabase } from "./harness.js";

export type ImportedUser = {
  username: string;
  email: string;
  email_verified: boolean;
  role: string;
  password_hash: string;
  disabled_at: Date | null;
  display_name: string | null;
};

export type ImportRun = { code: number; text: string; errors: string; progress: string };

/** A database and a directory for one test; `cleanup` removes both. */
export async function importSetup() {
  const db = await cliDatabase();
  const dir = mkdtempSync(join(tmpdir(), "bulwark-import-"));
  const config = loadConfig(
    { ...db.env, RATE_LIMIT_PER_MINUTE: "10000", AUTH_LOGIN_PER_MINUTE: "10000", AUTH_REGISTER_PER_MINUTE: "10000" },
    { generateDevSecrets: false },
  );
  return {
    config,
    /** Writes a file into the test's directory; returns its path. */
    file(name: string, content: string): string {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    },
    /** Runs `bulwark users import ARGS` against the database (progress to a non-terminal stream). */
    async run(...args: string[]): Promise<ImportRun> {
      const out = captureOutput();
      const progress: string[] = [];
      const code = await usersCommand(["import", ...args], out, () => config, {
        isTTY: false,
        write: (text: string) => progress.push(text),
      });
      return { code, text: out.lines.join("\n"), errors: out.errors.join("\n"), progress: progress.join("") };
    },
    /** Runs `work` with the app on the same database (the embedded database has one owner at a time). */
    async withApp<T>(work: (app: FastifyInstance) => Promise<T>): Promise<T> {
      const app = await createApp(config);
      try {
        return await work(app);
      } finally {
        await app.close();
      }
    },
    /** Runs a query on the database between commands. */
    async query<T>(statement: SQL): Promise<T[]> {
      const store = await db.open();
      try {
        return rowsOf<T>(await store.db.execute(statement));
      } finally {
        await store.close();
      }
    },
    /** Every user, by address (byte order, the same on PGlite and PostgreSQL). */
    users(): Promise<ImportedUser[]> {
      return this.query<ImportedUser>(
        sql`select username, email, email_verified, role, password_hash, disabled_at, display_name from users order by email_key collate "C"`,
      );
    },
    async cleanup(): Promise<void> {
      await db.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The signed-in user's own view (`GET /api/users/me`) after a login that must succeed. */
export async function meAfterLogin(
  app: FastifyInstance,
  login: string,
  password: string,
): Promise<{ status: number; user?: Record<string, unknown> }> {
  const res = await app.inject({ method: "POST", url: "/api/auth/login", payload: { login, password } });
  if (res.statusCode !== 200) return { status: res.statusCode };
  const me = await app.inject({
    method: "GET",
    url: "/api/users/me",
    headers: { authorization: `Bearer ${res.json().access_token}` },
  });
  return { status: 200, user: me.json().user as Record<string, unknown> };
}
