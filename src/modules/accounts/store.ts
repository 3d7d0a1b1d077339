// SQL of the accounts module, and nothing else.
import { and, desc, eq, gt, gte, ilike, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import type { Executor } from "../../store/db.js";
import { accountTokens, invitations, users } from "./tables.js";

export type UserRow = typeof users.$inferSelect;
export type AccountTokenRow = typeof accountTokens.$inferSelect;
export type TokenPurpose = AccountTokenRow["purpose"];

export async function findById(db: Executor, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row;
}

/** The user whose username or email (both lower-cased) is `key`. */
export async function findByLogin(db: Executor, key: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(or(eq(users.usernameKey, key), eq(users.emailKey, key)))
    .limit(1);
  return row;
}

export async function findByUsername(db: Executor, username: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.usernameKey, username.toLowerCase()));
  return row;
}

/** Whether a username or email is taken (without regard to case), ignoring user `except`. */
export async function taken(
  db: Executor,
  keys: { usernameKey?: string; emailKey?: string },
  except?: string,
): Promise<boolean> {
  const conditions = [];
  if (keys.usernameKey) conditions.push(eq(users.usernameKey, keys.usernameKey));
  if (keys.emailKey) conditions.push(eq(users.emailKey, keys.emailKey));
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .where(or(...conditions));
  return rows.some((r) => r.id !== except);
}

export async function insertUser(db: Executor, row: typeof users.$inferInsert): Promise<void> {
  await db.insert(users).values(row);
}

/** Inserts a user unless the username or email is taken (ON CONFLICT DO NOTHING); false when taken. */
export async function insertUserIfFree(db: Executor, row: typeof users.$inferInsert): Promise<boolean> {
  const rows = await db.insert(users).values(row).onConflictDoNothing().returning({ id: users.id });
  return rows.length === 1;
}

export async function updateUser(
  db: Executor,
  id: string,
  patch: Partial<typeof users.$inferInsert>,
): Promise<UserRow | undefined> {
  const [row] = await db.update(users).set(patch).where(eq(users.id, id)).returning();
  return row;
}

/** A page of users, newest first; `q` matches the start of the username or email. */
export async function listUsers(
  db: Executor,
  options: { q?: string; beforeId?: string; limit: number },
): Promise<UserRow[]> {
  const conditions = [];
  if (options.q) {
    // Escape LIKE's wildcards: a search for "a_b" means those three characters.
    const prefix = `${options.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conditions.push(or(ilike(users.usernameKey, prefix), ilike(users.emailKey, prefix)));
  }
  if (options.beforeId) conditions.push(lt(users.id, options.beforeId));
  return db
    .select()
    .from(users)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(users.id))
    .limit(options.limit);
}

/** The user whose email (lower-cased) is `emailKey`. */
export async function findByEmail(db: Executor, emailKey: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.emailKey, emailKey));
  return row;
}

export async function insertToken(db: Executor, row: typeof accountTokens.$inferInsert): Promise<void> {
  await db.insert(accountTokens).values(row);
}

/** A live (unused, unexpired) token of the given purpose by its hash. */
export async function findLiveToken(
  db: Executor,
  tokenHash: string,
  purpose: TokenPurpose,
  now: Date,
): Promise<AccountTokenRow | undefined> {
  const [row] = await db
    .select()
    .from(accountTokens)
    .where(
      and(
        eq(accountTokens.tokenHash, tokenHash),
        eq(accountTokens.purpose, purpose),
        isNull(accountTokens.usedAt),
        gt(accountTokens.expiresAt, now),
      ),
    );
  return row;
}

/** Marks a token used if nobody did first; false when it was already used (two clicks racing). */
export async function consumeToken(db: Executor, tokenHash: string, now: Date): Promise<boolean> {
  const rows = await db
    .update(accountTokens)
    .set({ usedAt: now })
    .where(and(eq(accountTokens.tokenHash, tokenHash), isNull(accountTokens.usedAt)))
    .returning({ hash: accountTokens.tokenHash });
  return rows.length === 1;
}

/** Retires a user's outstanding tokens of a purpose created at or after `since` (later email changes, when one is undone). */
export async function retireTokensSince(
  db: Executor,
  userId: string,
  purpose: TokenPurpose,
  since: Date,
  now: Date,
): Promise<void> {
  await db
    .update(accountTokens)
    .set({ usedAt: now })
    .where(
      and(
        eq(accountTokens.userId, userId),
        eq(accountTokens.purpose, purpose),
        isNull(accountTokens.usedAt),
        gte(accountTokens.createdAt, since),
      ),
    );
}

/** Retires every outstanding token of a purpose for a user (a newer one, or a completed reset, supersedes them). */
export async function retireTokens(db: Executor, userId: string, purpose: TokenPurpose, now: Date): Promise<void> {
  await db
    .update(accountTokens)
    .set({ usedAt: now })
    .where(and(eq(accountTokens.userId, userId), eq(accountTokens.purpose, purpose), isNull(accountTokens.usedAt)));
}

/**
 * Deletes accounts whose address was never proven, that have a local password (outside identities
 * are kept: their provider vouches for them) and were created before `cutoff`; optionally only those
 * holding a username or email of `keys`. Returns the ids deleted. Their sessions, keys and tokens go
 * with them (foreign keys cascade).
 */
export async function deleteExpiredUnverified(
  db: Executor,
  cutoff: Date,
  keys?: { usernameKey?: string; emailKey: string },
): Promise<string[]> {
  const conditions = [isNull(users.firstVerifiedAt), isNotNull(users.passwordHash), lt(users.createdAt, cutoff)];
  if (keys)
    conditions.push(
      keys.usernameKey
        ? or(eq(users.usernameKey, keys.usernameKey), eq(users.emailKey, keys.emailKey))!
        : eq(users.emailKey, keys.emailKey),
    );
  const rows = await db
    .delete(users)
    .where(and(...conditions))
    .returning({ id: users.id });
  return rows.map((r) => r.id);
}

export type InvitationRow = typeof invitations.$inferSelect;

/** Stores an invitation (its token only as an HMAC). */
export async function insertInvitation(db: Executor, row: typeof invitations.$inferInsert): Promise<void> {
  await db.insert(invitations).values(row);
}

/**
 * Takes a live invitation by its token hash, marking it used in the same statement: of two
 * concurrent accepts of one link, exactly one gets the row.
 */
export async function takeInvitation(db: Executor, tokenHash: string, now: Date): Promise<InvitationRow | undefined> {
  const rows = await db
    .update(invitations)
    .set({ usedAt: now })
    .where(and(eq(invitations.tokenHash, tokenHash), isNull(invitations.usedAt), gt(invitations.expiresAt, now)))
    .returning();
  return rows[0];
}

/** Records which account an accepted invitation made. */
export async function linkInvitation(db: Executor, id: string, userId: string): Promise<void> {
  await db.update(invitations).set({ userId }).where(eq(invitations.id, id));
}

/** Invitations not used and not expired, newest first. */
export async function pendingInvitations(db: Executor, now: Date): Promise<InvitationRow[]> {
  return db
    .select()
    .from(invitations)
    .where(and(isNull(invitations.usedAt), gt(invitations.expiresAt, now)))
    .orderBy(desc(invitations.id));
}

/** Ends an invitation before use; false when there was no pending one. */
export async function revokeInvitation(db: Executor, id: string, now: Date): Promise<boolean> {
  const rows = await db
    .update(invitations)
    .set({ usedAt: now })
    .where(and(eq(invitations.id, id), isNull(invitations.usedAt)))
    .returning({ id: invitations.id });
  return rows.length === 1;
}

/** Deletes invitations expired or used before `before`. */
export async function pruneInvitations(db: Executor, before: Date): Promise<number> {
  const rows = await db
    .delete(invitations)
    .where(or(lt(invitations.expiresAt, before), lt(invitations.usedAt, before)))
    .returning({ id: invitations.id });
  return rows.length;
}

/** The ids of enabled admins, their rows locked until the transaction ends (two demotions cannot both pass the "last admin" check). */
export async function lockAdmins(db: Executor): Promise<string[]> {
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.role, "admin"), isNull(users.disabledAt)))
    .for("update");
  return rows.map((r) => r.id);
}

/**
 * Whether any account holds the admin role (disabled ones too: setup is over once an admin was
 * made). With `lock`, first takes a transaction-scoped advisory lock, so two first-admin setups on
 * any instances run one after the other and the second sees the first's admin.
 */
export async function anyAdmin(db: Executor, lock = false): Promise<boolean> {
  if (lock) await db.execute(sql`select pg_advisory_xact_lock(hashtextextended('bulwark:first-admin', 0))`);
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.role, "admin")).limit(1);
  return rows.length > 0;
}
