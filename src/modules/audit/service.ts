// The audit service: records events into the hash chain, queries them, and verifies the chain.
// It never sees a request, so routes, the CLI and other modules' services call the same code.
//
// Threat model. The append-only triggers (migration 0000_audit) stop mistakes and application
// bugs; a database owner can disable them. The chain is what catches a determined attacker: an
// edited row fails its own hash, a deleted or inserted row breaks the next link, and rows cut off
// the end leave `audit_chain_head` pointing past the last row. The chain is unkeyed (SHA-256), so
// someone who rewrites every row after their change *and* the head is only caught by comparing
// the head with a copy kept outside the database (a log line, a SIEM, a signed export).
//
// Record late in a transaction: the chain lock is held until the caller's transaction ends, so
// audited writes serialise from the audit write to the commit.
import type { Clock } from "../../core/clock.js";
import { errors } from "../../core/errors.js";
import { newId } from "../../core/ids.js";
import type { Database, Executor } from "../../store/db.js";
import { GENESIS_HASH, rowHash, type ChainedRow } from "./chain.js";
import type { AuditEvent, AuditEventView, AuditResult, AuditFilters, AuditPageView, VerifyResult } from "./schema.js";
import { scrubMetadata, scrubText, storable } from "./scrub.js";
import * as store from "./store.js";
import { CORE_EVENTS, type AuditEventSpec, type AuditVocabulary } from "./vocabulary.js";

export type AuditService = {
  /** Appends an event; inside `tx` when given, so it commits or rolls back with the change it records. */
  record(event: AuditEvent, tx?: Executor): Promise<void>;
  /**
   * Appends an event that goes with no other write (a refused login), in one transaction shared with
   * the other such events recorded within a few milliseconds: one chain lock, one head read, one
   * multi-row insert and one head update for the whole group. Resolves once the group has committed
   * (rejects if it failed), so the caller answers only after its row is stored.
   */
  recordGrouped(event: AuditEvent): Promise<void>;
  /** Writes the grouped events waiting for their group now; resolves when none waits. */
  flush(): Promise<void>;
  /** Events matching the filters, newest first, a page at a time. */
  query(filters?: AuditFilters): Promise<AuditPageView>;
  /** Recomputes the chain from the first row to the head. */
  verify(): Promise<VerifyResult>;
  /**
   * Calls `listener` for every successful event recorded from now on, inside the transaction that
   * writes it: what the listener writes (an outbound webhook delivery) commits or rolls back with
   * the event. A listener that throws fails the change. `results` widens what it sees (lockouts
   * and token reuse are recorded as `denied`).
   */
  onRecord(listener: AuditListener, options?: { results?: readonly AuditResult[] }): void;
  /** Adds event types to the vocabulary; a type declared twice is a start-up error. */
  define(events: AuditVocabulary): void;
  /** The declared event types and what each means. */
  vocabulary(): ReadonlyMap<string, AuditEventSpec>;
};

/** Sees a recorded event (as stored: scrubbed, with its id and time) inside its transaction. */
export type AuditListener = (event: AuditEventView, tx: Executor) => Promise<void>;

export type AuditDeps = { db: Database; clock: Clock };

/** An event as stored, before it is linked: what the row's hash covers but its id and time. */
type EventFields = Omit<ChainedRow, "id" | "at" | "result"> & { result: AuditResult };

/**
 * What `verify` reports as `first_bad_id` when no row can be blamed: the newest rows were deleted
 * (the head points past the last row that verifies), or the head row itself was removed. Every
 * other failure names a row: the edited row, or the first row after a deletion or insertion.
 */
export const CHAIN_HEAD_MARKER = "chain_head";

const RESULTS = new Set(["success", "failure", "denied"]);
const EVENT_TYPE = /^[a-z0-9][a-z0-9_.:-]{0,99}$/;
const VERIFY_BATCH = 500;
/** How long the first event of a group waits for others; a refused login answers this much later at most. */
const GROUP_WINDOW_MS = 20;
/** Rows per grouped insert at most. */
const GROUP_MAX = 200;
const MAX_LIMIT = 200;

/** Builds the audit service over a database and a clock. */
export function createAuditService({ db, clock }: AuditDeps): AuditService {
  const listeners: { listener: AuditListener; results: readonly AuditResult[] }[] = [];
  const known = new Map<string, AuditEventSpec>(Object.entries(CORE_EVENTS));

  /** The stored fields of an event, scrubbed. */
  const fieldsOf = (event: AuditEvent): EventFields => {
    // Bad event types and results are programming errors: refuse them loudly rather than store junk.
    if (!known.has(event.eventType)) throw new Error(`audit: undeclared event type ${JSON.stringify(event.eventType)}`);
    if (!RESULTS.has(event.result)) throw new Error(`audit: invalid result ${JSON.stringify(event.result)}`);
    return {
      eventType: event.eventType,
      result: event.result,
      actorUserId: scrubText(event.actor?.userId, 128),
      actorKeyId: scrubText(event.actor?.keyId, 128),
      ip: scrubText(event.ip, 64),
      userAgent: scrubText(event.userAgent, 512),
      target: scrubText(event.target, 256),
      metadata: scrubMetadata(event.metadata),
    };
  };

  /** Links the events to the chain, in order, inside `t`, and tells the listeners. */
  const append = async (t: Executor, list: EventFields[]): Promise<void> => {
    // One writer at a time across every instance: the lock is held until the outermost
    // transaction ends, so rows commit in seq order and each links to the one before it.
    const head = await store.lockHead(t);
    // Fail closed: without the head the chain cannot be extended honestly.
    if (!head) throw new Error("audit chain head is missing: run `bulwark audit verify`");
    const now = Math.floor(clock.now());
    let prevHash = head.hash;
    const rows = list.map((fields) => {
      // Milliseconds only, so the timestamp read back from timestamptz hashes the same.
      const row = { id: newId(now), at: new Date(now), ...fields };
      const linked = { ...row, prevHash, hash: rowHash(prevHash, row) };
      prevHash = linked.hash;
      return linked;
    });
    const seqs = await store.appendRows(t, rows, prevHash);
    for (const [i, row] of rows.entries()) {
      if (!listeners.some(({ results }) => results.includes(row.result))) continue;
      const view = toView({ ...row, seq: seqs[i]! });
      for (const { listener, results } of listeners) if (results.includes(row.result)) await listener(view, t);
    }
  };

  // Grouped events: the first one waits GROUP_WINDOW_MS for company, then the group is written in
  // one transaction; events arriving while it is written form the next group.
  type Waiting = { fields: EventFields; resolve: () => void; reject: (error: unknown) => void };
  let waiting: Waiting[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  const schedule = () => {
    if (!timer && !writing && waiting.length > 0) timer = setTimeout(() => void writeGroup(), GROUP_WINDOW_MS);
  };
  const writeGroup = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    if (waiting.length === 0) return;
    const group = waiting.slice(0, GROUP_MAX);
    waiting = waiting.slice(GROUP_MAX);
    writing = db
      .transaction((t) =>
        append(
          t,
          group.map((w) => w.fields),
        ),
      )
      .then(
        () => group.forEach((w) => w.resolve()),
        (error: unknown) => group.forEach((w) => w.reject(error)),
      );
    await writing;
    writing = undefined;
    schedule();
  };

  return {
    define(events) {
      for (const [type, spec] of Object.entries(events)) {
        if (!EVENT_TYPE.test(type)) throw new Error(`audit: invalid event type ${JSON.stringify(type)}`);
        if (known.has(type)) throw new Error(`audit: event type ${type} is declared twice`);
        known.set(type, spec);
      }
    },

    vocabulary: () => known,

    onRecord(listener, options) {
      listeners.push({ listener, results: options?.results ?? ["success"] });
    },

    async record(event, tx) {
      const fields = fieldsOf(event);
      // A savepoint inside the caller's transaction, or a transaction of our own.
      await (tx ?? db).transaction((t) => append(t, [fields]));
    },

    recordGrouped(event) {
      const fields = fieldsOf(event);
      return new Promise<void>((resolve, reject) => {
        waiting.push({ fields, resolve, reject });
        schedule();
      });
    },

    async flush() {
      while (writing || waiting.length > 0) {
        if (!writing) void writeGroup();
        await writing;
      }
    },

    async query(filters = {}) {
      const limit = filters.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
        throw errors.invalid(`limit must be a whole number from 1 to ${MAX_LIMIT}`, [
          { path: "limit", message: "out of range" },
        ]);
      for (const name of ["since", "until"] as const) {
        const date = filters[name];
        if (date !== undefined && Number.isNaN(date.getTime()))
          throw errors.invalid(`${name} is not a valid date`, [{ path: name, message: "invalid date" }]);
      }
      const beforeSeq = filters.cursor === undefined ? undefined : decodeCursor(filters.cursor);
      const rows = await store.listRows(
        db,
        {
          eventType: filters.eventType,
          userId: filters.userId,
          ip: filters.ip,
          result: filters.result,
          since: filters.since,
          until: filters.until,
          beforeSeq,
        },
        limit + 1,
      );
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return { events: page.map(toView), nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null };
    },

    async verify() {
      let prevHash = GENESIS_HASH;
      let lastSeq = 0;
      let lastId: string | undefined;
      let checked = 0;
      /** Checks rows after lastSeq (up to `upTo`, or to the end), a batch at a time; returns the first bad id. */
      const walk = async (upTo?: number): Promise<string | undefined> => {
        for (;;) {
          const batch = await store.rowsAfter(db, lastSeq, VERIFY_BATCH, upTo);
          for (const row of batch) {
            checked++;
            // A broken link means a row before this one was deleted or inserted; a wrong hash, that this row was edited.
            if (row.prevHash !== prevHash || rowHash(row.prevHash, row) !== row.hash) return row.id;
            prevHash = row.hash;
            lastSeq = row.seq;
            lastId = row.id;
          }
          if (batch.length < VERIFY_BATCH) return undefined;
        }
      };
      const bad = (id: string) => ({ ok: false, checked, first_bad_id: id });

      const broken = await walk();
      if (broken) return bad(broken);
      // The head is written in the same transaction as each row and rows commit in seq order (the
      // chain lock), so a head read now is never behind a row already seen.
      const head = await store.readHead(db);
      if (!head) return bad(CHAIN_HEAD_MARKER);
      if (head.seq < lastSeq) {
        // Rows past the head were added without going through the chain lock: a forgery.
        const [beyond] = await store.rowsAfter(db, head.seq, 1);
        return bad(beyond?.id ?? CHAIN_HEAD_MARKER);
      }
      if (head.seq > lastSeq) {
        // Rows committed while we walked: every row up to the head is visible now. Walk to the head
        // and no further, so a steady stream of writes cannot keep verify running forever.
        const late = await walk(head.seq);
        if (late) return bad(late);
        // Still short of the head: the newest rows were deleted.
        if (lastSeq !== head.seq) return bad(CHAIN_HEAD_MARKER);
      }
      if (head.hash !== prevHash) return bad(lastId ?? CHAIN_HEAD_MARKER);
      return { ok: true, checked };
    },
  };
}

/** The API view of a stored row. */
function toView(row: store.AuditRow): AuditEventView {
  const actor: AuditEventView["actor"] = {};
  if (row.actorUserId !== null) actor.user_id = row.actorUserId;
  if (row.actorKeyId !== null) actor.key_id = row.actorKeyId;
  const view: AuditEventView = {
    id: row.id,
    at: row.at.toISOString(),
    event_type: row.eventType,
    result: row.result,
    actor,
    ip: row.ip,
    user_agent: row.userAgent,
    metadata: row.metadata,
  };
  if (row.target !== null) view.target = row.target;
  return view;
}

/** An opaque cursor: the seq of the last row of a page, base64url. */
export function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString("base64url");
}

/** The seq a cursor stands for; a cursor we did not issue is invalid_request. */
export function decodeCursor(cursor: string): number {
  const text = /^[A-Za-z0-9_-]{1,64}$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  const match = /^s:(\d{1,15})$/.exec(storable(text, 64));
  if (!match) throw errors.invalid("cursor is malformed", [{ path: "cursor", message: "malformed cursor" }]);
  return Number(match[1]);
}
