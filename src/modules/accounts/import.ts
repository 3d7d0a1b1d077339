// Importing accounts from another backend with their password hashes (`bulwark users import`). Nothing is hashed
// here: the stored hash is kept and replaced by Argon2id at the user's next successful login. Every row is checked
// and either imported, reported unchanged (its address already has an account: running a file twice changes
// nothing), or rejected with its line and reason. Rows are written in batches inside one transaction with one audit
// event for the run, so an import lands whole or not at all.
import { sql } from "drizzle-orm";
import { isVerifiableHash } from "../../core/crypto/index.js";
import { newId } from "../../core/ids.js";
import { rowsOf, type Executor } from "../../store/db.js";
import type { Kernel } from "../module.js";
import { emailKeyOf } from "./admin-email.js";
import { users } from "./tables.js";

/** One account to import, as read from a file; `line` is where it starts, for the report. */
export type ImportRow = {
  line: number;
  /** Absent: made from the address's local part (made unique with `-2`, `-3`, …). */
  username?: string | undefined;
  email: string;
  passwordHash: string;
  emailVerified?: boolean | undefined;
  admin?: boolean | undefined;
  disabled?: boolean | undefined;
  displayName?: string | undefined;
};

export type ImportReject = { line: number; reason: string };

export type ImportProgress = { phase: "checking" | "writing"; done: number; total: number };

export type ImportOptions = {
  /** Check everything, write nothing. */
  dryRun?: boolean;
  /** Import the valid rows even when others are rejected (default: any rejected row means nothing is written). */
  skipRejected?: boolean;
  /** What the rows came from (a preset name), for the audit event. */
  source?: string;
  onProgress?: (progress: ImportProgress) => void;
};

export type ImportReport = {
  rows: number;
  /** Accounts created (or, on a dry run or a refused run, that would have been). */
  imported: number;
  unchanged: number;
  rejected: ImportReject[];
  admins: number;
  verified: number;
  disabled: number;
  /** Rows whose username was made from the address. */
  derivedUsernames: number;
  /** Whether anything was written. */
  written: boolean;
};

const USERNAME = /^[A-Za-z0-9_-]{3,50}$/;
// The same address shape registration accepts (ajv-formats' "email" format), at most 254 characters.
const EMAIL =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;
// C0 and C1 controls (NUL included: PostgreSQL refuses it in text), line and paragraph separators, and the
// bidirectional overrides and isolates that make a name display as something else.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const MAX_HASH = 512;
const MAX_DISPLAY_NAME = 100;
/** Rows a lookup or an insert statement takes (each column is one array parameter). */
const BATCH = 5000;
const WRITE_BATCH = 5000;

/** Thrown when an account took one of the names between the check and the write: nothing was written. */
export class ImportRaceError extends Error {}

/** The username made from an address: its local part with other characters as `_`, 3 to 40 characters. */
export function usernameFromEmail(email: string): string {
  const local = email.slice(0, email.lastIndexOf("@")).replace(/[^A-Za-z0-9_-]/g, "_");
  return local.slice(0, 40).padEnd(3, "_");
}

/** The problem with a row's fields, or undefined when it may be imported. */
function problemOf(row: ImportRow): string | undefined {
  for (const [field, value] of Object.entries({
    username: row.username,
    email: row.email,
    password_hash: row.passwordHash,
    display_name: row.displayName,
  })) {
    if (value !== undefined && CONTROL.test(value)) return `${field} contains a control character`;
  }
  if (row.username !== undefined && !USERNAME.test(row.username))
    return "username must be 3 to 50 letters, digits, _ or -";
  if (row.email === "") return "no email";
  if (row.email.length > 254 || !EMAIL.test(row.email)) return "email is not a valid address";
  if (row.passwordHash === "") return "no password hash";
  if (row.passwordHash.length > MAX_HASH || !isVerifiableHash(row.passwordHash))
    return "unknown password hash format (expected bcrypt $2a$/$2b$/$2y$, Argon2, or Better Auth's scrypt)";
  if (row.displayName !== undefined && row.displayName.length > MAX_DISPLAY_NAME)
    return `display_name is longer than ${MAX_DISPLAY_NAME} characters`;
  return undefined;
}

type Existing = { username: string; usernameKey: string; emailKey: string; firstVerifiedAt: Date | null };

/** Accounts holding any of the addresses or usernames, looked up a batch at a time. */
async function existing(
  db: Executor,
  emailKeys: readonly string[],
  usernameKeys: readonly string[],
  onBatch?: (done: number) => void,
): Promise<Existing[]> {
  const found: Existing[] = [];
  const columns = {
    username: users.username,
    usernameKey: users.usernameKey,
    emailKey: users.emailKey,
    firstVerifiedAt: users.firstVerifiedAt,
  };
  for (let i = 0; i < Math.max(emailKeys.length, usernameKeys.length); i += BATCH) {
    const emails = emailKeys.slice(i, i + BATCH);
    const names = usernameKeys.slice(i, i + BATCH);
    found.push(
      ...(await db
        .select(columns)
        .from(users)
        .where(
          sql`${users.emailKey} = any(${sql.param(emails)}::text[]) or ${users.usernameKey} = any(${sql.param(names)}::text[])`,
        )),
    );
    onBatch?.(Math.min(i + BATCH, emailKeys.length));
  }
  return found;
}

/** Imports `rows` (plus the rows the reader already rejected); see the header of this file. */
export async function importUsers(
  deps: Pick<Kernel, "db" | "clock" | "audit">,
  input: { rows: readonly ImportRow[]; rejected?: readonly ImportReject[] },
  options: ImportOptions = {},
): Promise<ImportReport> {
  const { db, clock, audit } = deps;
  const rejected: ImportReject[] = [...(input.rejected ?? [])];
  const total = input.rows.length + rejected.length;
  const progress = (phase: ImportProgress["phase"], done: number, of: number) =>
    options.onProgress?.({ phase, done, total: of });

  // Fields first, then duplicates inside the file: the first row with an address or a username keeps it.
  type Valid = ImportRow & { emailKey: string; usernameKey?: string };
  const valid: Valid[] = [];
  const emailLines = new Map<string, number>();
  const usernameLines = new Map<string, number>();
  for (const row of input.rows) {
    const problem = problemOf(row);
    if (problem) {
      rejected.push({ line: row.line, reason: problem });
      continue;
    }
    const emailKey = emailKeyOf(row.email);
    const usernameKey = row.username?.toLowerCase();
    const sameEmail = emailLines.get(emailKey);
    const sameName = usernameKey === undefined ? undefined : usernameLines.get(usernameKey);
    if (sameEmail !== undefined) {
      rejected.push({ line: row.line, reason: `same email as line ${sameEmail}` });
      continue;
    }
    if (sameName !== undefined) {
      rejected.push({ line: row.line, reason: `same username as line ${sameName}` });
      continue;
    }
    emailLines.set(emailKey, row.line);
    if (usernameKey !== undefined) usernameLines.set(usernameKey, row.line);
    valid.push({ ...row, email: row.email.trim(), emailKey, ...(usernameKey ? { usernameKey } : {}) });
  }

  return db.transaction(async (tx) => {
    // What the database already holds: by address (unchanged or a conflict), by username (taken).
    const bases = valid.map((row) => row.usernameKey ?? usernameFromEmail(row.email).toLowerCase());
    const found = await existing(
      tx,
      valid.map((row) => row.emailKey),
      [...new Set(bases)],
      (done) => progress("checking", done, valid.length),
    );
    const byEmail = new Map(found.map((row) => [row.emailKey, row]));
    const takenNames = new Set(found.map((row) => row.usernameKey));

    let unchanged = 0;
    const accepted: (Valid & { username: string; usernameKey: string; derived: boolean })[] = [];
    const pending: Valid[] = [];
    for (const row of valid) {
      const owner = byEmail.get(row.emailKey);
      if (owner) {
        // A registration nobody confirmed may be a squatter waiting for the real owner: never take it for them.
        if (owner.firstVerifiedAt === null)
          rejected.push({
            line: row.line,
            reason: "the email belongs to an existing registration nobody has confirmed (it expires, or delete it)",
          });
        else if (row.usernameKey !== undefined && row.usernameKey !== owner.usernameKey)
          rejected.push({ line: row.line, reason: `the email belongs to existing user ${owner.username}` });
        else unchanged++;
        continue;
      }
      if (row.usernameKey === undefined) pending.push(row);
      else if (takenNames.has(row.usernameKey))
        rejected.push({ line: row.line, reason: `username ${row.username} is taken by another account` });
      else accepted.push({ ...row, username: row.username!, usernameKey: row.usernameKey, derived: false });
    }
    const claimed = new Set(accepted.map((row) => row.usernameKey));

    // Made usernames: the local part, then `-2`, `-3`, … until one is free in the file and in the database.
    for (let attempt = 1; pending.length > 0; attempt++) {
      const candidates = pending.map((row) => {
        const base = usernameFromEmail(row.email);
        return attempt === 1 ? base : `${base}-${attempt}`;
      });
      const unknown = [...new Set(candidates.map((c) => c.toLowerCase()))].filter(
        (key) => !claimed.has(key) && !takenNames.has(key),
      );
      if (attempt > 1 && unknown.length > 0)
        for (const row of await existing(tx, [], unknown)) takenNames.add(row.usernameKey);
      const retry: Valid[] = [];
      pending.forEach((row, i) => {
        const username = candidates[i]!;
        const key = username.toLowerCase();
        if (claimed.has(key) || takenNames.has(key)) retry.push(row);
        else {
          claimed.add(key);
          accepted.push({ ...row, username, usernameKey: key, derived: true });
        }
      });
      pending.splice(0, pending.length, ...retry);
    }

    accepted.sort((a, b) => a.line - b.line);
    rejected.sort((a, b) => a.line - b.line);
    const report: ImportReport = {
      rows: total,
      imported: accepted.length,
      unchanged,
      rejected,
      admins: accepted.filter((row) => row.admin).length,
      verified: accepted.filter((row) => row.emailVerified).length,
      disabled: accepted.filter((row) => row.disabled).length,
      derivedUsernames: accepted.filter((row) => row.derived).length,
      written: false,
    };
    if (options.dryRun || (rejected.length > 0 && !options.skipRejected) || accepted.length === 0) return report;

    const now = new Date(clock.now());
    const adminIds: string[] = [];
    const at = now.toISOString();
    for (let i = 0; i < accepted.length; i += WRITE_BATCH) {
      const batch = accepted.slice(i, i + WRITE_BATCH);
      const ids = batch.map(() => newId(now.getTime()));
      batch.forEach((row, j) => row.admin && adminIds.push(ids[j]!));
      const column = <T>(pick: (row: (typeof batch)[number]) => T) => sql.param(batch.map(pick));
      // One statement a batch with one array parameter a column (unnest): building and parsing it costs little
      // next to a VALUES list of 10 000 rows. The operator vouches for an imported account: first_verified_at is
      // set, so it does not expire like an anonymous registration. The admin role comes from the source system's
      // own flag: the operator's explicit decision to import it, counted in the audit event.
      const inserted = rowsOf<{ id: string }>(
        await tx.execute(sql`
          insert into users (id, username, username_key, email, email_key, email_verified, first_verified_at,
            password_hash, display_name, role, disabled_at, created_at, updated_at)
          select id, username, username_key, email, email_key, verified, ${at}::timestamptz,
            password_hash, display_name, role, case when disabled then ${at}::timestamptz end,
            ${at}::timestamptz, ${at}::timestamptz
          from unnest(${sql.param(ids)}::text[], ${column((r) => r.username)}::text[],
            ${column((r) => r.usernameKey)}::text[], ${column((r) => r.email)}::text[],
            ${column((r) => r.emailKey)}::text[], ${column((r) => r.emailVerified === true)}::boolean[],
            ${column((r) => r.passwordHash)}::text[], ${column((r) => r.displayName ?? null)}::text[],
            ${column((r) => (r.admin ? "admin" : "user"))}::text[], ${column((r) => r.disabled === true)}::boolean[])
            as t(id, username, username_key, email, email_key, verified, password_hash, display_name, role, disabled)
          on conflict do nothing
          returning id`),
      );
      // Someone registered one of these names since the check: roll the whole import back rather than half-do it.
      if (inserted.length !== batch.length)
        throw new ImportRaceError(
          "an account was created meanwhile with a username or email of this file; nothing was imported: run it again",
        );
      progress("writing", i + batch.length, accepted.length);
    }
    await audit.record(
      {
        eventType: "user.import",
        result: "success",
        actor: { userId: null },
        metadata: {
          source: options.source ?? "rows",
          rows: total,
          imported: report.imported,
          unchanged,
          rejected: rejected.length,
          admins: report.admins,
          verified: report.verified,
          disabled: report.disabled,
          admin_ids: adminIds.slice(0, 20),
        },
      },
      tx,
    );
    report.written = true;
    return report;
  });
}
