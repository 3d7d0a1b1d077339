// Accounts: the owner of the `users` table. Registration, the user's own profile and password,
// email verification and password reset, provisioning for outside identities and billing plans, and
// the admin operations. Plain functions over plain data: routes, other modules and the CLI call the
// same code. Sign-in (login, lockout, device tokens, step-up) is the signin module's.
import { errors } from "../../core/errors.js";
import type { Executor } from "../../store/db.js";
import { createSharedCache } from "../../store/shared-cache.js";
import { allowedRedirect, pageLink, type MailTemplate } from "../mail/index.js";
import type { Kernel, RevokeReason } from "../module.js";
import type { ClientMeta, SessionUser } from "../sessions/index.js";
import { checkPassword, normalizePassword } from "./password-policy.js";
import { adminEmailsOf, emailKeyOf, isAdminEmail } from "./admin-email.js";
import { importUsers, type ImportOptions, type ImportReject, type ImportRow } from "./import.js";
import { createFirstAdmin } from "./first-admin.js";
import { createInvitations } from "./invitations.js";
import { createRecovery } from "./recovery.js";
import * as store from "./store.js";
import type { UserRow } from "./store.js";
import { accountKeys, newUserRow } from "./new-user.js";

export type AccountDeps = Pick<
  Kernel,
  "db" | "clock" | "audit" | "pubsub" | "hasher" | "mailer" | "counters" | "credentials" | "config"
>;

/** Proves, before a sensitive change, that the caller is the account's owner (the signin module's step-up). */
export type Prove = () => Promise<void>;

export type UserView = {
  id: string;
  username: string;
  email: string;
  email_verified: boolean;
  display_name: string | null;
  birth_date: string | null;
  role: "user" | "admin";
  mfa_enabled: boolean;
  plan: string | null;
  created_at: string;
};

const USERS_CHANNEL = "users.changed";
const CACHE_TTL_MS = 5 * 60_000;

/** The fields sign-in needs of an account (never leaves the server). */
export type LoginCandidate = Pick<UserRow, "id" | "passwordHash" | "disabledAt" | "mfaEnabled">;

/** The public view of a user row: never the password hash, never the disabled flag's details. */
export function userView(row: UserRow): UserView {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    email_verified: row.emailVerified,
    display_name: row.displayName,
    birth_date: row.birthDate,
    role: row.role,
    mfa_enabled: row.mfaEnabled,
    plan: row.plan,
    created_at: row.createdAt.toISOString(),
  };
}

/** Whether a database error is a unique-constraint violation (two registrations racing for a name). */
function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string } };
  return e.code === "23505" || e.cause?.code === "23505";
}

export type AccountService = ReturnType<typeof createAccountService>;

/** Builds the account service; `start()` subscribes to other instances' changes. */
export function createAccountService(deps: AccountDeps) {
  const { db, clock, audit, pubsub, hasher, mailer, config } = deps;
  const adminEmailsNow = (executor: Executor) => adminEmailsOf(config, executor);
  // Resolving a principal must not cost a query per request: rows are kept five minutes, and a
  // change on any instance drops the row everywhere.
  const changeListeners: ((ids: readonly string[]) => void)[] = [];
  const users = createSharedCache<UserRow>({
    pubsub,
    channel: USERS_CHANNEL,
    clock,
    ttlMs: CACHE_TTL_MS,
    load: (id) => store.findById(db, id),
    onDrop: (ids) => {
      for (const listener of changeListeners) listener(ids);
    },
  });
  const changed = (id: string) => users.invalidate(id);

  /** The current password, or 403: re-authentication before a sensitive change. */
  const requirePassword = async (user: UserRow | undefined, password: string | undefined, field: string) => {
    if (!user) throw errors.unauthorized("account unavailable");
    if (!password)
      throw errors.invalid(`${field} is required for this change`, [{ path: field, message: "is required" }]);
    const ok = user.passwordHash !== null && (await hasher.verify(user.passwordHash, normalizePassword(password)));
    if (!ok) throw errors.forbidden(`${field} is wrong`);
  };

  /** Queues a mail to a user about their account. */
  const notify = (user: Pick<UserRow, "id" | "email" | "username" | "displayName">, template: MailTemplate) => {
    mailer.send({ to: user.email, name: user.displayName ?? user.username, userId: user.id, template });
  };

  const policyCheck = (password: string, user: { username: string; email: string }, field = "password") => {
    const result = checkPassword(password, { ...config.password, username: user.username, email: user.email });
    if (!result.ok) throw errors.invalid(`${field}: ${result.message}`, [{ path: field, message: result.message }]);
    return result.normalized;
  };

  /** Revokes what the user holds everywhere (sessions, keys, …) inside `tx`; returns counts and the announcement. */
  const revokeAll = async (tx: Executor, userId: string, why: RevokeReason | "disabled") => {
    const revoked =
      why === "disabled"
        ? await deps.credentials.userDisabled(tx, userId)
        : await deps.credentials.revoked(tx, userId, why);
    const counts = Object.fromEntries(Object.entries(revoked).map(([kind, r]) => [`${kind}_revoked`, r.count]));
    const announce = async () => {
      for (const r of Object.values(revoked)) await r.announce();
    };
    const kept = Object.values(revoked).flatMap((r) => r.kept ?? []);
    return { counts, announce, kept };
  };

  const recovery = createRecovery({
    db,
    clock,
    audit,
    mailer,
    counters: deps.counters,
    hasher,
    secretKey: config.secretKey,
    links: config,
    adminEmails: () => adminEmailsNow(db),
    policyCheck: (password, user, field) => policyCheck(password, user, field),
    changed: (id) => changed(id),
    revokeAll: (tx, userId, why) => revokeAll(tx, userId, why),
    emailTakenByOther: (emailKey, userId) => store.taken(db, { emailKey }, userId),
  });

  /**
   * Deletes never-verified registrations older than UNVERIFIED_ACCOUNT_TTL (only those holding `keys`
   * when given) inside `tx`, auditing each; returns their ids for `changed` after commit.
   */
  const expireUnverified = async (
    tx: Executor,
    keys?: { usernameKey?: string; emailKey: string },
  ): Promise<string[]> => {
    const cutoff = new Date(clock.now() - config.unverifiedAccountTtl * 1000);
    const ids = await store.deleteExpiredUnverified(tx, cutoff, keys);
    for (const id of ids) {
      await audit.record(
        {
          eventType: "user.expired",
          result: "success",
          actor: { userId: null },
          target: id,
          metadata: { ttl_seconds: config.unverifiedAccountTtl },
        },
        tx,
      );
    }
    return ids;
  };

  const invitations = createInvitations({
    db,
    clock,
    audit,
    mailer,
    hasher,
    config,
    policyCheck: (password, user, field) => policyCheck(password, user, field),
    userView: (row) => userView(row),
  });

  const firstAdmin = createFirstAdmin({
    db,
    clock,
    audit,
    hasher,
    publicUrl: config.publicUrl,
    policyCheck: (password, user, field) => policyCheck(password, user, field),
    issueVerification: (tx, row) => recovery.issueVerification(tx, row),
    sendVerification: (row, token) => recovery.sendVerification(row, token),
  });

  /** A `redirect_to` outside the allow-list is refused: it would mail a real token to someone else's page. */
  const checkRedirect = (url: string | undefined) => {
    if (url !== undefined && !allowedRedirect(config, url)) {
      throw errors.invalid("redirect_to is not an allowed redirect URL (REDIRECT_URLS, FRONTEND_URL)", [
        { path: "redirect_to", message: "is not allowed" },
      ]);
    }
  };

  return {
    invitations: {
      create: invitations.create,
      list: invitations.list,
      revoke: invitations.revoke,
      prune: invitations.prune,
      /** Creates the invited account; returns its view. */
      async accept(input: Parameters<typeof invitations.accept>[0], meta: ClientMeta): Promise<UserView> {
        return userView(await invitations.accept(input, meta));
      },
    },
    /** The one-time setup link of the first admin (none once an admin exists). */
    openSetup: firstAdmin.openSetup,
    setupOpen: firstAdmin.setupOpen,
    /** Creates the first admin with the setup link's token; returns its view. */
    async completeSetup(input: Parameters<typeof firstAdmin.completeSetup>[0], meta: ClientMeta): Promise<UserView> {
      return userView(await firstAdmin.completeSetup(input, meta));
    },
    requestVerification: recovery.requestVerification,
    verifyEmail: recovery.verifyEmail,
    /** Mails a reset link when the address has an account; the same answer either way. */
    forgotPassword(email: string, meta: ClientMeta, redirectTo?: string): Promise<void> {
      checkRedirect(redirectTo);
      return recovery.forgotPassword(email, meta, redirectTo);
    },
    resetPassword: recovery.resetPassword,
    undoEmailChange: recovery.undoEmailChange,

    /** Password normalisation as registration applies it (NFKC), for sign-in. */
    normalizePassword,

    /** Throws (403) unless `password` is the user's password: re-authentication before a sensitive change. */
    async verifyPassword(userId: string, password: string | undefined, field = "password"): Promise<void> {
      await requirePassword(await store.findById(db, userId), password, field);
    },

    /** The account a login name (username or email, lower-cased) belongs to, for sign-in. */
    async findForLogin(name: string): Promise<LoginCandidate | undefined> {
      return store.findByLogin(db, name);
    },

    /** The names an account signs in with (username and email, lower-cased), for the signin module's counters. */
    async loginNames(tx: Executor, id: string): Promise<string[]> {
      const row = await store.findById(tx, id);
      return row ? [row.usernameKey, row.emailKey] : [];
    },

    /** The account, read from the database (not the cache). */
    async findById(id: string): Promise<LoginCandidate | undefined> {
      return store.findById(db, id);
    },

    /** Replaces the password hash inside the caller's transaction (an upgraded hash at sign-in); `forget` after commit. */
    async setPasswordHash(tx: Executor, userId: string, passwordHash: string): Promise<void> {
      await store.updateUser(tx, userId, { passwordHash, updatedAt: new Date(clock.now()) });
    },

    /** Sets the `mfa_enabled` flag inside the mfa module's transaction; call `forget` after commit. */
    async setMfaEnabled(tx: Executor, userId: string, enabled: boolean): Promise<void> {
      await store.updateUser(tx, userId, { mfaEnabled: enabled, updatedAt: new Date(clock.now()) });
    },

    /** Sets a user's billing plan inside the caller's transaction; false when there is no such user. `forget` after commit. */
    async setPlan(tx: Executor, userId: string, plan: string | null): Promise<boolean> {
      return (await store.updateUser(tx, userId, { plan, updatedAt: new Date(clock.now()) })) !== undefined;
    },

    /** Drops a user from every instance's cache after a change made in another module's transaction. */
    forget: (id: string) => changed(id),

    /** Mails a notice about the account to its owner. */
    async notify(userId: string, template: MailTemplate): Promise<void> {
      const user = await users.get(userId);
      if (user) notify(user, template);
    },

    /** Listens for user changes made on other instances. */
    start: () => users.start(),

    /**
     * Calls `listener` with the ids of users changed on any instance (role, disabled flag, …), once
     * the change has committed: holders of long-lived connections re-check what the user may do.
     */
    onChanged(listener: (ids: readonly string[]) => void): void {
      changeListeners.push(listener);
    },

    /** What the sessions module needs to resolve a principal: role and disabled flag, cached. */
    async sessionUser(id: string): Promise<SessionUser | null> {
      const row = await users.get(id);
      return row ? { id: row.id, role: row.role, disabled: row.disabledAt !== null } : null;
    },

    /** Registers an account; the password is checked against the policy and stored as Argon2id. */
    async register(
      input: {
        username: string;
        email: string;
        password: string;
        display_name?: string | undefined;
        redirect_to?: string | undefined;
      },
      meta: ClientMeta,
    ): Promise<UserView> {
      // Sign-up modes: with REGISTRATION=invite an account needs an admin's invitation; closed, nobody signs up.
      if (config.registration !== "open") {
        throw errors.forbidden(
          config.registration === "invite"
            ? "registration is by invitation only: ask an admin for an invitation"
            : "registration is closed",
        );
      }
      checkRedirect(input.redirect_to);
      const email = input.email.trim();
      const keys = accountKeys(input.username, email);
      const normalized = policyCheck(input.password, { username: input.username, email });
      // A registration nobody confirmed in time holds nothing: it is deleted, and the name is free.
      const expired = await db.transaction((tx) => expireUnverified(tx, keys));
      for (const id of expired) await changed(id);
      if (await store.taken(db, keys)) throw errors.conflict("username or email is already taken");
      const passwordHash = await hasher.hash(normalized);
      const now = new Date(clock.now());
      const row = newUserRow({
        username: input.username,
        email,
        passwordHash,
        now,
        role: "user",
        emailVerified: false,
        displayName: input.display_name,
      });
      let token: string;
      try {
        token = await db.transaction(async (tx) => {
          await store.insertUser(tx, row);
          await audit.record(
            {
              eventType: "user.register",
              result: "success",
              actor: { userId: row.id },
              ip: meta.ip,
              userAgent: meta.userAgent,
              target: row.id,
            },
            tx,
          );
          return recovery.issueVerification(tx, row);
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw errors.conflict("username or email is already taken");
        throw error;
      }
      await recovery.sendVerification(row, token, input.redirect_to);
      return userView(row);
    },

    /**
     * Creates the local account of an outside identity inside the caller's transaction (no password:
     * it signs in through its provider, and can neither log in nor reset by password). The caller
     * passes only an address the provider verified (an unverified one would reserve it); admin by
     * email only for such an address spelled in ASCII. Returns undefined when the username or email is taken.
     */
    async provision(
      tx: Executor,
      input: { username: string; email: string; emailVerified: boolean },
    ): Promise<{ id: string; role: "user" | "admin" } | undefined> {
      const role = input.emailVerified && isAdminEmail(await adminEmailsNow(tx), input.email) ? "admin" : "user";
      const row = newUserRow({ ...input, passwordHash: null, now: new Date(clock.now()), role });
      return (await store.insertUserIfFree(tx, row)) ? { id: row.id, role } : undefined;
    },

    /** Throws `email_unverified` (403) unless the user's current address is proven: `what` names the refused action. */
    async requireVerifiedEmail(userId: string, what: string): Promise<void> {
      const row = await users.get(userId);
      if (!row) throw errors.unauthorized("account unavailable");
      // Whoever registered an address they do not own must not plant credentials that outlive the owner's reset.
      if (!row.emailVerified) throw errors.emailUnverified(what);
    },

    /** Operator: marks a user's current address as proven (checked out of band); never changes the role. */
    async markEmailVerified(userId: string, actor: { via: string }): Promise<void> {
      const user = await store.findById(db, userId);
      if (!user) throw errors.notFound("no such user");
      if (user.emailVerified) return;
      const now = new Date(clock.now());
      await db.transaction(async (tx) => {
        await store.updateUser(tx, userId, {
          emailVerified: true,
          firstVerifiedAt: user.firstVerifiedAt ?? now,
          updatedAt: now,
        });
        await audit.record(
          {
            eventType: "email.verified",
            result: "success",
            actor: { userId: null },
            target: userId,
            metadata: { role_granted: null, via: actor.via },
          },
          tx,
        );
      });
      await changed(userId);
    },

    /** Deletes never-verified registrations older than UNVERIFIED_ACCOUNT_TTL; returns how many (the module's prune). */
    async pruneUnverified(): Promise<number> {
      const ids = await db.transaction((tx) => expireUnverified(tx));
      for (const id of ids) await changed(id);
      return ids.length;
    },

    /** Whether an address (lower-cased) belongs to an account. */
    async emailTaken(emailKey: string): Promise<boolean> {
      return store.taken(db, { emailKey });
    },

    /** The signed-in user's own view, from the cache. */
    async me(id: string): Promise<UserView> {
      const row = await users.get(id);
      if (!row) throw errors.unauthorized("account unavailable");
      return userView(row);
    },

    /** Changes the user's email, display name or birth date; a new email first needs `prove` (password and second factor). */
    async update(
      id: string,
      patch: {
        email?: string | undefined;
        display_name?: string | null | undefined;
        birth_date?: string | null | undefined;
      },
      meta: ClientMeta,
      prove: Prove,
    ): Promise<UserView> {
      const user = await store.findById(db, id);
      if (!user) throw errors.unauthorized("account unavailable");
      const changes: Partial<UserRow> = {};
      const emailChange = patch.email !== undefined && emailKeyOf(patch.email) !== user.emailKey;
      if (emailChange) {
        // Whoever controls the email controls password resets: changing it needs both factors.
        await prove();
        const email = patch.email!.trim();
        for (const expired of await db.transaction((tx) => expireUnverified(tx, { emailKey: emailKeyOf(email) })))
          await changed(expired);
        if (await store.taken(db, { emailKey: emailKeyOf(email) }, id))
          throw errors.conflict("username or email is already taken");
        // A new address is unproven until its owner clicks the link.
        Object.assign(changes, { email, emailKey: emailKeyOf(email), emailVerified: false });
      }
      if (patch.display_name !== undefined) changes.displayName = patch.display_name === "" ? null : patch.display_name;
      if (patch.birth_date !== undefined) {
        if (
          patch.birth_date !== null &&
          !(patch.birth_date < new Date(clock.now()).toISOString().slice(0, 10) && patch.birth_date >= "1900-01-01")
        ) {
          throw errors.invalid("birth_date must be a real date in the past", [
            { path: "birth_date", message: "must be a date in the past" },
          ]);
        }
        changes.birthDate = patch.birth_date;
      }
      if (Object.keys(changes).length === 0) return userView(user);
      changes.updatedAt = new Date(clock.now());
      let updated: UserRow | undefined;
      try {
        let token: string | undefined;
        let undo: string | undefined;
        updated = await db.transaction(async (tx) => {
          const row = await store.updateUser(tx, id, changes);
          await audit.record(
            {
              eventType: "user.update",
              result: "success",
              actor: { userId: id },
              ip: meta.ip,
              userAgent: meta.userAgent,
              target: id,
              metadata: { fields: Object.keys(changes).filter((k) => k !== "updatedAt" && k !== "emailKey") },
            },
            tx,
          );
          // The new address gets a link; links sent to the old one die with the change.
          if (emailChange && row) token = await recovery.issueVerification(tx, row);
          // The old address is told, with a link that undoes the change: a stolen session plus the
          // password would otherwise take the account for good (resets go to the new address).
          if (emailChange) undo = await recovery.issueUndo(tx, user);
          return row;
        });
        if (token && updated) await recovery.sendVerification(updated, token);
        if (undo) recovery.sendUndo(user, undo);
      } catch (error) {
        if (isUniqueViolation(error)) throw errors.conflict("username or email is already taken");
        throw error;
      }
      await changed(id);
      return userView(updated!);
    },

    /** Changes the password once `prove` passed; every other session of the user ends. */
    async changePassword(
      id: string,
      currentSessionId: string | undefined,
      input: { new_password: string },
      meta: ClientMeta,
      prove: Prove,
    ): Promise<void> {
      const user = await store.findById(db, id);
      if (!user) throw errors.unauthorized("account unavailable");
      // The policy first: a refused new password must not use up the two-factor code of the proof.
      const accepted = policyCheck(input.new_password, user, "new_password");
      await prove();
      const passwordHash = await hasher.hash(accepted);
      const { announce, kept } = await db.transaction(async (tx) => {
        await store.updateUser(tx, id, { passwordHash, updatedAt: new Date(clock.now()) });
        const revoked = await revokeAll(tx, id, { reason: "password_change", exceptSessionId: currentSessionId });
        await audit.record(
          {
            eventType: "password.changed",
            result: "success",
            actor: { userId: id },
            ip: meta.ip,
            userAgent: meta.userAgent,
            target: id,
            metadata: revoked.counts,
          },
          tx,
        );
        return revoked;
      });
      await announce();
      await changed(id);
      // The keys a change leaves alive are listed: a key minted by whoever held the session outlives it.
      notify(user, {
        type: "password_changed",
        time: new Date(clock.now()).toISOString(),
        resetLink: pageLink(config, "reset_password"),
        liveCredentials: kept,
      });
    },

    /** The user with this username (without regard to case), or null. */
    async byUsername(username: string): Promise<UserView | null> {
      const row = await store.findByUsername(db, username);
      return row ? userView(row) : null;
    },

    /** Admin: a page of users, newest first, optionally searched by username or email prefix. */
    async list(options: {
      q?: string | undefined;
      cursor?: string | undefined;
      limit?: number | undefined;
    }): Promise<{ users: UserView[]; next_cursor: string | null }> {
      const limit = options.limit ?? 50;
      const rows = await store.listUsers(db, {
        ...(options.q ? { q: options.q } : {}),
        ...(options.cursor ? { beforeId: options.cursor } : {}),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      return { users: page.map(userView), next_cursor: rows.length > limit ? page.at(-1)!.id : null };
    },

    /** Admin: disables or re-enables a user; disabling ends everything they hold (sessions, API keys) at once. */
    async setDisabled(
      id: string,
      disabled: boolean,
      actor: { userId: string | null; ip?: string | null; userAgent?: string | null },
    ): Promise<void> {
      const { announce } = await db.transaction(async (tx) => {
        const row = await store.updateUser(tx, id, {
          disabledAt: disabled ? new Date(clock.now()) : null,
          updatedAt: new Date(clock.now()),
        });
        if (!row) throw errors.notFound("no such user");
        const revoked = disabled
          ? await revokeAll(tx, id, "disabled")
          : { counts: {}, announce: async () => undefined };
        await audit.record(
          {
            eventType: disabled ? "user.disabled" : "user.enabled",
            result: "success",
            actor: { userId: actor.userId },
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
            target: id,
            metadata: revoked.counts,
          },
          tx,
        );
        return revoked;
      });
      await announce();
      await changed(id);
    },

    /** Admin or CLI: gives a user the admin role. */
    async promote(username: string, actor: { userId: string | null }): Promise<UserView> {
      const user = await store.findByUsername(db, username);
      if (!user) throw errors.notFound(`no user named ${username}`);
      const row = await db.transaction(async (tx) => {
        const updated = await store.updateUser(tx, user.id, { role: "admin", updatedAt: new Date(clock.now()) });
        await audit.record(
          { eventType: "user.promote", result: "success", actor, target: user.id, metadata: { role: "admin" } },
          tx,
        );
        return updated!;
      });
      await changed(user.id);
      return userView(row);
    },

    /**
     * Admin or CLI: gives or takes the admin role. The last enabled admin cannot be demoted (by anyone,
     * themself included): that would leave nobody able to administer without an operator's shell.
     * Taking the role ends the credentials that carry admin power (API keys with the `admin` scope);
     * sessions live on, since every request reads the role from the account, not from the token.
     */
    async setRole(
      id: string,
      role: "user" | "admin",
      actor: { userId: string | null; ip?: string | null; userAgent?: string | null },
    ): Promise<UserView> {
      const { row, announce } = await db.transaction(async (tx) => {
        const admins = await store.lockAdmins(tx);
        const user = await store.findById(tx, id);
        if (!user) throw errors.notFound("no such user");
        if (role === "user" && admins.length === 1 && admins[0] === id)
          throw errors.conflict("this is the last admin: promote another account first");
        const updated =
          user.role === role ? user : (await store.updateUser(tx, id, { role, updatedAt: new Date(clock.now()) }))!;
        const revoked =
          user.role === "admin" && role === "user" ? await deps.credentials.adminRoleRemoved(tx, id, actor) : {};
        const counts = Object.fromEntries(Object.entries(revoked).map(([kind, r]) => [`${kind}_revoked`, r.count]));
        await audit.record(
          {
            eventType: role === "admin" ? "user.promote" : "user.demote",
            result: "success",
            actor: { userId: actor.userId },
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
            target: id,
            metadata: { role, changed: user.role !== role, ...counts },
          },
          tx,
        );
        const announce = async () => {
          for (const r of Object.values(revoked)) await r.announce();
        };
        return { row: updated, announce };
      });
      await announce();
      await changed(id);
      return userView(row);
    },

    /** CLI: imports accounts with their hashes from another backend (bcrypt, Argon2, Better Auth's scrypt); see import.ts. */
    importUsers(input: { rows: readonly ImportRow[]; rejected?: readonly ImportReject[] }, options?: ImportOptions) {
      return importUsers(deps, input, options);
    },
  };
}
