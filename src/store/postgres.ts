// The PostgreSQL side of the database (db.ts), loaded only when DATABASE_URL is set.
import pg from "pg";

/**
 * A pg pool whose connections may die at any moment without taking the process down.
 *
 * pg emits 'error' on a Client whose connection breaks (a restart, `pg_terminate_backend`: SQLSTATE
 * 57P01), and an 'error' event without a listener is thrown by Node. The pool listens on idle
 * clients only; a checked-out client (a transaction, the migrator's locked connection) has nobody
 * listening. So every client gets a listener for its whole life, and a checked-out client whose
 * connection died is given back to the pool at once, marked broken: drizzle does not release a
 * client whose `begin` failed, and each such leak would cost the pool a connection for good.
 */
export class GuardedPool extends pg.Pool {
  /** The idempotent release of each client checked out through `connect()`, until it is released. */
  readonly #held = new WeakMap<pg.PoolClient, (error?: Error) => void>();

  constructor(config: pg.PoolConfig, report: (error: Error) => void) {
    super(config);
    // An idle connection that dies: the pool drops it and emits here.
    this.on("error", report);
    this.on("connect", (client) => {
      client.on("error", (error: Error) => {
        report(error);
        this.#held.get(client as pg.PoolClient)?.(error);
      });
    });
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(
    callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void,
  ): void;
  override connect(
    callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void,
  ): Promise<pg.PoolClient> | void {
    // The callback form is pool.query's own, which releases a client that fails by itself.
    if (callback) return super.connect(callback);
    return super.connect().then((client) => {
      const release = client.release.bind(client);
      let released = false;
      // A client given back on error may be released again by its user: that second call is a no-op.
      const once = (error?: Error | boolean) => {
        if (released) return;
        released = true;
        this.#held.delete(client);
        release(error);
      };
      client.release = once;
      this.#held.set(client, once);
      return client;
    });
  }
}
