// A PostgreSQL server of a test's own: its own temporary data directory and port, so a test may stop,
// start and kill it without touching the shared server. Needs PostgreSQL's binaries (initdb, pg_ctl)
// and, when the tests run as root, `runuser` to run them as the `postgres` user.
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export type PrivatePostgres = {
  /** `postgres://…` of the test's database on this server. */
  readonly url: string;
  readonly port: number;
  /** `pg_ctl stop -m fast`: every backend is terminated (SQLSTATE 57P01) and the server exits. */
  stop(): void;
  /** Starts the server again on the same port and data directory; resolves once it accepts connections. */
  start(): void;
  /** Runs one statement on a fresh connection of its own (closed afterwards). */
  query<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /** Stops the server and deletes its data directory. */
  destroy(): void;
};

/** The bin directory of the newest installed PostgreSQL, or a reason it cannot be used here. */
export function postgresBinaries(): { bin: string } | { skip: string } {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest)
    return {
      skip: "PostgreSQL's initdb was not found under /usr/lib/postgresql/*/bin: install PostgreSQL to run the outage tests",
    };
  // PostgreSQL refuses to run as root; as root we switch to the postgres user.
  if (process.getuid?.() === 0 && spawnSync("runuser", ["-u", "postgres", "--", "true"]).status !== 0) {
    return { skip: "running as root without a usable `runuser -u postgres`: the outage tests cannot start PostgreSQL" };
  }
  return { bin: join(root, newest, "bin") };
}

/** A free TCP port on 127.0.0.1 (free when asked; taken by whoever binds it first). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Creates a cluster in a temporary directory, starts it on a free port and creates the database `bulwark`. */
export async function startPrivatePostgres(bin: string): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-pg-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]) => {
    const [command, argv] = asRoot
      ? ["runuser", ["-u", "postgres", "--", join(bin, tool), ...args]]
      : [join(bin, tool), args];
    const result = spawnSync(command as string, argv as string[], { encoding: "utf8", timeout: 60_000 });
    if (result.status !== 0) {
      const log = existsSync(join(dir, "server.log")) ? readFileSync(join(dir, "server.log"), "utf8").slice(-2000) : "";
      throw new Error(`${tool} ${args.join(" ")} failed (${result.status}): ${result.stderr}${result.stdout}\n${log}`);
    }
  };
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const start = () =>
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      join(dir, "server.log"),
      "-w",
      "-t",
      "60",
      "-o",
      `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "start",
    ]);
  start();
  const base = `postgres://postgres@127.0.0.1:${port}`;
  const query = async <T>(text: string, values?: unknown[], database = "bulwark"): Promise<T[]> => {
    const client = new pg.Client({ connectionString: `${base}/${database}` });
    // This connection may be terminated by the test itself; that must not be an uncaught error.
    client.on("error", () => undefined);
    await client.connect();
    try {
      return (await client.query(text, values)).rows as T[];
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  await query("create database bulwark", [], "postgres");
  let destroyed = false;
  return {
    url: `${base}/bulwark`,
    port,
    stop: () => run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]),
    start,
    query,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // Already stopped.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
