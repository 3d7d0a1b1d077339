// The database: Drizzle over PGlite (embedded, files under DATA_DIR) or over pg (PostgreSQL).
// One dialect, one set of migrations, the same queries on both.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import type pg from "pg";
import { processAlive } from "../core/process.js";
import { oncePer } from "../core/throttle.js";

export type Database = PgDatabase<PgQueryResultHKT>;
export type Transaction = PgTransaction<PgQueryResultHKT>;
/** Anything that runs queries: the database or a transaction in progress. */
export type Executor = Database | Transaction;

export type Store = {
  readonly kind: "pglite" | "postgres";
  readonly db: Database;
  /** Runs `select 1`, failing after `timeoutMs`: the readiness check. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
  /** The raw driver, for the migrator's dedicated connection. */
  readonly driver: { kind: "pglite"; client: PGlite } | { kind: "postgres"; pool: pg.Pool };
};

export type StoreOptions = {
  /** `postgres://…`; absent means PGlite. */
  databaseUrl?: string | undefined;
  /** Where PGlite keeps its files; absent (with no URL) means an in-memory database, for tests. */
  dataDir?: string | undefined;
  /** A lost connection (PostgreSQL): called at most once every 10 s however many connections die. */
  onError?: (error: Error) => void;
  /** A dumped PGlite data directory to start from instead of running initdb (seconds faster). */
  template?: Blob | undefined;
};

/**
 * The initdb'd cluster, migrated to the build's schema, that `npm run build` dumps beside the
 * compiled code. PGlite's initdb and the migrations take seconds on a small machine; unpacking this
 * takes well under one. Absent when running from source, where PGlite runs initdb itself.
 */
const BUILT_TEMPLATE = fileURLToPath(new URL("./pglite-template.tar.gz", import.meta.url));

/**
 * PGlite's Postgres defaults to 128 MB of shared buffers, which shows up as resident memory; an
 * embedded database for one instance does well with far less (PostgreSQL servers keep their own).
 */
const PGLITE_CONF = ["shared_buffers=16MB"];

/**
 * PGlite is one process's database: a second process opening the same directory works on its own
 * copy and the two silently diverge. A lock file with the owner's pid refuses the second opener.
 */
function lockDataDir(dir: string): () => void {
  const file = join(dir, "bulwark.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx", mode: 0o600 });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(readFileSync(file, "utf8"));
      if (owner === process.pid || processAlive(owner)) {
        throw new Error(
          `the embedded database in ${dir} is in use by process ${owner}: stop it first (with PGlite one process owns the data), or use DATABASE_URL for several processes`,
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not lock ${dir}`);
}

function builtTemplate(): Blob | undefined {
  return existsSync(BUILT_TEMPLATE) ? new Blob([readFileSync(BUILT_TEMPLATE)]) : undefined;
}

/** One report of lost connections per this interval: a restart kills every connection at once. */
const ERROR_REPORT_INTERVAL_MS = 10_000;

/** Opens the database named by the options. */
export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.databaseUrl) {
    // Loaded only for PostgreSQL (and PGlite only for the embedded database): a start needs one.
    const [{ GuardedPool }, { drizzle: drizzlePg }] = await Promise.all([
      import("./postgres.js"),
      import("drizzle-orm/node-postgres"),
    ]);
    const pool = new GuardedPool(
      {
        connectionString: options.databaseUrl,
        max: 10,
        connectionTimeoutMillis: 5_000,
        // A runaway query must not hold a connection (and a lock) forever.
        statement_timeout: 15_000,
      },
      oncePer(ERROR_REPORT_INTERVAL_MS, options.onError),
    );
    const db = drizzlePg({ client: pool }) as unknown as Database;
    return makeStore("postgres", db, { kind: "postgres", pool }, () => pool.end());
  }
  const [{ PGlite }, { drizzle: drizzlePglite }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("drizzle-orm/pglite"),
  ]);
  let client: PGlite;
  if (options.dataDir) {
    const dir = join(options.dataDir, "pglite");
    const fresh = !existsSync(join(dir, "PG_VERSION"));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const template = fresh ? (options.template ?? builtTemplate()) : undefined;
    const unlock = lockDataDir(options.dataDir);
    try {
      client = await PGlite.create(dir, {
        postgresqlconf: PGLITE_CONF,
        ...(template ? { loadDataDir: template } : {}),
      });
    } catch (error) {
      unlock();
      throw error;
    }
    const pglite = client;
    const db = drizzlePglite({ client: pglite }) as unknown as Database;
    return makeStore("pglite", db, { kind: "pglite", client: pglite }, async () => {
      await pglite.close();
      unlock();
    });
  } else {
    client = await PGlite.create({
      postgresqlconf: PGLITE_CONF,
      ...(options.template ? { loadDataDir: options.template } : {}),
    });
  }
  const db = drizzlePglite({ client }) as unknown as Database;
  return makeStore("pglite", db, { kind: "pglite", client }, () => client.close());
}

function makeStore(kind: Store["kind"], db: Database, driver: Store["driver"], close: () => Promise<void>): Store {
  let closed = false;
  return {
    kind,
    db,
    driver,
    async ping(timeoutMs = 2_000) {
      if (closed) throw new Error("database closed");
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("database ping timed out")), timeoutMs);
      });
      try {
        await Promise.race([db.execute(sql`select 1`), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await close();
    },
  };
}

/** The rows of a raw `db.execute` result, whichever driver ran it. */
export function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}
