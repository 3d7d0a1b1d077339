// Accounts: registration, login with lockout and device tokens, the user's own profile and password,
// and the admin operations. Plain functions over plain data: routes and the CLI call the same code.
import type { Clock } from "../../core/clock.js";
import { AppError, errors } from "../../core/errors.js";
import { hmacSha256, randomToken, timingSafeEqualString } from "../../core/crypto/index.js";
import type { PasswordHasher } from "../../core/crypto/password.js";
import { newId } from "../../core/ids.js";
import type { Metrics } from "../../core/metrics.js";
import type { Database, Executor } from "../../store/db.js";
import type { PubSub } from "../../store/pubsub.js";
import type { AuditService } from "../audit/index.js";
import { nullMailer, type Mailer, type MailTemplate } from "../mail/index.js";
import type { Counters } from "../../store/counters.js";
import type { ClientMeta, SessionService, SessionUser, TokenPair } from "../sessions/index.js";
import { checkPassword, normalizePassword } from "./password-policy.js";
import { createRecovery } from "./recovery.js";
import * as store from "./store.js";
import type { UserRow } from "./store.js";

export type AccountConfig = {
  secretKey: string;
  lockoutThreshold: number;
  password: { minLength: number; policy: "nist" | "classes" };
  /** Base of the links in mails (PUBLIC_URL). */
  publicUrl?: string;
  /** Lower-cased addresses that get role admin once verified. */
  adminEmails?: readonly string[];
};

/** What login answers for an account with two-factor on: a 5-minute token for POST /api/auth/mfa/verify. */
export type MfaChallenge = { mfa_required: true; mfa_token: string; expires_in: number };

/** The second factor as the accounts service needs it; the mfa module provides it. */
export type SecondFactor = {
  /** Starts a challenge for a user whose password was right. */
  challenge(userId: string, options: { useCookies: boolean; knownDevice: boolean }, meta: ClientMeta): Promise<MfaChallenge>;
  /** Throws (403) unless `code` is a valid TOTP or recovery code of the user; consumes it. */
  check(userId: string, code: string, meta: ClientMeta): Promise<void>;
};

export type AccountDeps = {
  db: Database;
  clock: Clock;
  audit: AuditService;
  pubsub: PubSub;
  hasher: PasswordHasher;
  sessions: SessionService;
  metrics: Metrics;
  config: AccountConfig;
  /** Other credentials a disabled account loses (API keys): revoked in the same transaction, announced after it. */
  credentials?: CredentialRevoker[];
  /** Sends notices and links; without one (some CLI paths) mails are dropped. */
  mailer?: Mailer;
  /** Per-address and per-IP limits of the mail-sending routes. */
  counters?: Counters;
  /** Two-factor; without it an `mfa_enabled` user cannot sign in or make a sensitive change (fails closed). */
  secondFactor?: () => SecondFactor | undefined;
};

/** Revokes a user's credentials of one kind inside a transaction; `announce` tells every instance after the commit. */
export type CredentialRevoker = {
  kind: string;
  revokeUserIn(tx: Executor, userId: string, reason: string): Promise<string[]>;
  announce(ids: string[]): Promise<void>;
};

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

export type SignedInResult = TokenPair & { device_token: string };
export type LoginResult = SignedInResult | MfaChallenge;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Back-off after the threshold: 30 s, doubling per further failure, at most an hour. */
const BACKOFF_BASE_MS = 30_000;
/** However the client presents itself, no login name gets more than this many failures an hour. */
export const HOURLY_FAILURE_CAP = 100;
const USERS_CHANNEL = "users.changed";
const CACHE_MAX = 50_000;
const CACHE_TTL_MS = 5 * 60_000;

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

/** Builds the account service; call `init()` before serving. */
export function createAccountService(deps: AccountDeps) {
  const { db, clock, audit, pubsub, hasher, sessions, metrics, config } = deps;
  const mailer = deps.mailer ?? nullMailer;
  const publicUrl = config.publicUrl ?? "http://127.0.0.1:8080";
  const cache = new Map<string, { row: UserRow; at: number }>();

  /** A user row, from memory when fresh: resolving a principal must not cost a query per request. */
  const cachedUser = async (id: string): Promise<UserRow | undefined> => {
    const hit = cache.get(id);
    if (hit && clock.now() - hit.at < CACHE_TTL_MS) return hit.row;
    const row = await store.findById(db, id);
    if (row) {
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
      cache.set(id, { row, at: clock.now() });
    } else {
      cache.delete(id);
    }
    return row;
  };

  /** Drops a user from every instance's cache after a change (role, disabled, profile). */
  const changed = async (id: string) => {
    cache.delete(id);
    await pubsub.publish(USERS_CHANNEL, id);
  };

  const deviceMac = (userId: string, nonce: string) => hmacSha256(config.secretKey, `device.${userId}.${nonce}`).toString("base64url");
  const issueDevice = (userId: string) => {
    const nonce = randomToken(12);
    return `d1.${userId}.${nonce}.${deviceMac(userId, nonce)}`;
  };
  /** A device token proves an earlier successful login of this account from this client. */
  const validDevice = (token: string | undefined, userId: string): boolean => {
    const parts = token?.split(".") ?? [];
    if (parts.length !== 4 || parts[0] !== "d1" || parts[1] !== userId) return false;
    return timingSafeEqualString(parts[3]!, deviceMac(userId, parts[2]!));
  };

  const requirePassword = async (user: UserRow, password: string | undefined, field = "current_password") => {
    if (!password) throw errors.invalid(`${field} is required for this change`, [{ path: field, message: "is required" }]);
    const ok = user.passwordHash !== null && (await hasher.verify(user.passwordHash, normalizePassword(password)));
    if (!ok) throw errors.forbidden(`${field} is wrong`);
  };

  /** With two-factor on, a sensitive change also needs a code: a stolen session or password alone is not enough. */
  const requireSecondFactor = async (user: UserRow, code: string | undefined, meta: ClientMeta) => {
    if (!user.mfaEnabled) return;
    const factor = deps.secondFactor?.();
    // Fail closed: a build without the mfa module must not treat two-factor users as password-only.
    if (!factor) throw new AppError("service_unavailable", "two-factor authentication is not available");
    if (!code) throw errors.invalid("code is required: two-factor authentication is on", [{ path: "code", message: "is required when two-factor is on" }]);
    await factor.check(user.id, code, meta);
  };

  /** Queues a mail to a user about their account. */
  const notify = (user: Pick<UserRow, "id" | "email" | "username" | "displayName">, template: MailTemplate) => {
    mailer.send({ to: user.email, name: user.displayName ?? user.username, userId: user.id, template });
  };

  const loginKeyOf = (userId: string) => hmacSha256(config.secretKey, `login-user:${userId}`).toString("hex");

  /** Creates the session of a completed sign-in (password, and the second factor when on). */
  const completeSignIn = async (user: UserRow, options: { knownDevice: boolean; deviceToken: string | undefined; rehash?: string | undefined; clearLoginKey?: string | undefined; mfa: boolean }, meta: ClientMeta): Promise<SignedInResult> => {
    const now = clock.now();
    const created = await db.transaction(async (tx) => {
      if (options.rehash) await store.updateUser(tx, user.id, { passwordHash: options.rehash, updatedAt: new Date(now) });
      if (options.clearLoginKey) await store.clearBackoff(tx, options.clearLoginKey);
      const session = await sessions.create(tx, user.id, meta);
      await audit.record({
        eventType: "auth.login", result: "success", actor: { userId: user.id }, ip: meta.ip, userAgent: meta.userAgent,
        target: session.sessionId, metadata: { rehashed: options.rehash !== undefined, known_device: options.knownDevice, mfa: options.mfa },
      }, tx);
      return session;
    });
    if (options.rehash) cache.delete(user.id);
    const pair = await sessions.pair(user.id, created.sessionId, created.refreshToken);
    // A device without a device token of this account is new: tell the owner, who may not be the one signing in.
    if (!options.knownDevice) notify(user, { type: "new_sign_in", ip: meta.ip, userAgent: meta.userAgent, time: new Date(now).toISOString(), sessionsLink: `${publicUrl}/account/sessions` });
    return { ...pair, device_token: options.deviceToken ?? issueDevice(user.id) };
  };

  const recovery = createRecovery({
    db, clock, audit, mailer, counters: deps.counters, sessions, hasher,
    secretKey: config.secretKey, publicUrl, adminEmails: config.adminEmails ?? [],
    policyCheck: (password, user, field) => policyCheck(password, user, field),
    changed: (id) => changed(id),
    clearLockout: (tx, userId) => store.clearBackoff(tx, loginKeyOf(userId)),
  });

  const policyCheck = (password: string, user: { username: string; email: string }, field = "password") => {
    const result = checkPassword(password, { ...config.password, username: user.username, email: user.email });
    if (!result.ok) throw errors.invalid(`${field}: ${result.message}`, [{ path: field, message: result.message }]);
    return result.normalized;
  };

  /** Counts a failed login for a name; returns the lock's end when this failure started one. */
  const recordFailure = async (loginKey: string, now: number): Promise<Date | null> => {
    return db.transaction(async (tx) => {
      const row = await store.lockFailures(tx, loginKey);
      // Failures older than an hour are forgiven: a typo a week ago does not bring a lock closer.
      const failures = row && now - row.lastFailureAt.getTime() < HOUR ? row.failures + 1 : 1;
      const inWindow = row !== undefined && now - row.windowStart.getTime() < HOUR;
      const windowStart = inWindow ? row.windowStart : new Date(now);
      const windowFailures = inWindow ? row.windowFailures + 1 : 1;
      let lockedUntil: Date | null = null;
      if (failures >= config.lockoutThreshold) {
        lockedUntil = new Date(now + Math.min(BACKOFF_BASE_MS * 2 ** (failures - config.lockoutThreshold), HOUR));
      }
      if (windowFailures >= HOURLY_FAILURE_CAP) lockedUntil = new Date(windowStart.getTime() + HOUR);
      await store.saveFailures(tx, { loginKey, failures, lastFailureAt: new Date(now), lockedUntil, windowStart, windowFailures });
      return lockedUntil;
    });
  };

  return {
    requestVerification: recovery.requestVerification,
    verifyEmail: recovery.verifyEmail,
    forgotPassword: recovery.forgotPassword,
    resetPassword: recovery.resetPassword,

    /** Throws (403) unless `password` is the user's password: re-authentication before a sensitive change. */
    async verifyPassword(userId: string, password: string, field = "password"): Promise<void> {
      const user = await store.findById(db, userId);
      if (!user) throw errors.unauthorized("account unavailable");
      await requirePassword(user, password, field);
    },

    /** Finishes a sign-in whose second factor was just checked (POST /api/auth/mfa/verify). */
    async completeMfaLogin(userId: string, options: { knownDevice: boolean }, meta: ClientMeta): Promise<SignedInResult> {
      const user = await store.findById(db, userId);
      if (!user || user.disabledAt !== null || user.passwordHash === null) throw new AppError("invalid_credentials", "invalid or expired mfa_token");
      // The device token is not kept with the challenge: a fresh one is issued, valid like the old.
      return completeSignIn(user, { knownDevice: options.knownDevice, deviceToken: undefined, mfa: true }, meta);
    },

    /** Sets the `mfa_enabled` flag inside the mfa module's transaction; call `forget` after commit. */
    async setMfaEnabled(tx: Executor, userId: string, enabled: boolean): Promise<void> {
      await store.updateUser(tx, userId, { mfaEnabled: enabled, updatedAt: new Date(clock.now()) });
    },

    /** Drops a user from every instance's cache after a change made elsewhere. */
    forget: (id: string) => changed(id),

    /** Mails a notice about the account to its owner (two-factor on or off). */
    async notify(userId: string, template: MailTemplate): Promise<void> {
      const user = await store.findById(db, userId);
      if (user) notify(user, template);
    },

    /** Listens for user changes made on other instances. */
    async init(): Promise<void> {
      await pubsub.subscribe(USERS_CHANNEL, (id) => cache.delete(id));
    },

    /** What the sessions module needs to resolve a principal: role and disabled flag, cached. */
    async sessionUser(id: string): Promise<SessionUser | null> {
      const row = await cachedUser(id);
      return row ? { id: row.id, role: row.role, disabled: row.disabledAt !== null } : null;
    },

    /** Registers an account; the password is checked against the policy and stored as Argon2id. */
    async register(input: { username: string; email: string; password: string; display_name?: string }, meta: ClientMeta): Promise<UserView> {
      const email = input.email.trim();
      const keys = { usernameKey: input.username.toLowerCase(), emailKey: email.toLowerCase() };
      const normalized = policyCheck(input.password, { username: input.username, email });
      if (await store.taken(db, keys)) throw errors.conflict("username or email is already taken");
      const passwordHash = await hasher.hash(normalized);
      const now = new Date(clock.now());
      const row: UserRow = {
        id: newId(now.getTime()), username: input.username, ...keys, email, emailVerified: false, passwordHash,
        displayName: input.display_name ?? null, birthDate: null, role: "user", plan: null, mfaEnabled: false,
        disabledAt: null, createdAt: now, updatedAt: now,
      };
      let token: string;
      try {
        token = await db.transaction(async (tx) => {
          await store.insertUser(tx, row);
          await audit.record({ eventType: "user.register", result: "success", actor: { userId: row.id }, ip: meta.ip, userAgent: meta.userAgent, target: row.id }, tx);
          return recovery.issueVerification(tx, row);
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw errors.conflict("username or email is already taken");
        throw error;
      }
      recovery.sendVerification(row, token);
      return userView(row);
    },

    /**
     * Signs in by username or email. Every failure answers the same (invalid_credentials) and costs
     * one password verification, so neither the answer nor its timing tells whether the account exists.
     */
    async login(input: { login: string; password: string; deviceToken?: string | undefined; useCookies?: boolean }, meta: ClientMeta): Promise<LoginResult> {
      const name = input.login.normalize("NFKC").trim().toLowerCase();
      const password = normalizePassword(input.password);
      const now = clock.now();
      const user = await store.findByLogin(db, name);
      // Failures count against the account (its username and email share one budget) or, for a name
      // with no account, against the name; stored as an HMAC, since people type passwords into the
      // login field. Both answer alike, so the lock says nothing about whether the account exists.
      const loginKey = hmacSha256(config.secretKey, user ? `login-user:${user.id}` : `login-name:${name}`).toString("hex");
      const knownDevice = user !== undefined && validDevice(input.deviceToken, user.id);
      const record = await store.readFailures(db, loginKey);
      const lockedUntil = record?.lockedUntil && record.lockedUntil.getTime() > now ? record.lockedUntil : null;
      const capped = record !== undefined && record.windowFailures >= HOURLY_FAILURE_CAP && now - record.windowStart.getTime() < HOUR;
      // A device that signed in to this account before is exempt from the back-off, so an attacker
      // hammering a name cannot lock its owner out; the hourly cap holds for everyone.
      if (lockedUntil && (capped || !knownDevice)) {
        metrics.authFailures.inc({ reason: "locked" });
        await audit.record({ eventType: "auth.login", result: "denied", actor: { userId: user?.id ?? null }, ip: meta.ip, userAgent: meta.userAgent, metadata: { reason: "locked" } });
        throw errors.rateLimited(Math.max(1, Math.ceil((lockedUntil.getTime() - now) / 1000)));
      }

      let reason: string | undefined;
      if (!user || user.passwordHash === null) {
        // Hash a dummy password so an unknown user takes as long as a known one.
        await hasher.verifyDummy(password);
        reason = user ? "no_password" : "unknown_user";
      } else if (!(await hasher.verify(user.passwordHash, password))) {
        reason = "bad_password";
      } else if (user.disabledAt !== null) {
        reason = "disabled";
      }
      if (reason || !user || user.passwordHash === null) {
        const lock = await recordFailure(loginKey, now);
        metrics.authFailures.inc({ reason: "invalid_credentials" });
        await audit.record({ eventType: "auth.login", result: "failure", actor: { userId: user?.id ?? null }, ip: meta.ip, userAgent: meta.userAgent, metadata: { reason: reason ?? "unknown_user" } });
        if (lock) {
          metrics.authFailures.inc({ reason: "lockout" });
          await audit.record({ eventType: "auth.lockout", result: "denied", actor: { userId: user?.id ?? null }, ip: meta.ip, userAgent: meta.userAgent, metadata: { until: lock.toISOString() } });
          // Tell the owner, at most once an hour: every failure past the threshold extends the lock,
          // and a guessing attacker must not turn the notice into a mail flood.
          if (user && (!deps.counters || (await deps.counters.once(`mail:lockout:${user.id}`, 3600)))) {
            notify(user, { type: "lockout", until: lock.toISOString(), resetLink: `${publicUrl}/reset-password` });
          }
        }
        throw new AppError("invalid_credentials", "invalid login or password");
      }

      // Parameters live in the hash: an older or imported (bcrypt) hash is upgraded now that we hold the password.
      const rehash = hasher.needsRehash(user.passwordHash) ? await hasher.hash(password) : undefined;
      // A known device getting in while the name is locked leaves the lock in place for everyone else.
      const clearLoginKey = lockedUntil ? undefined : loginKey;
      if (user.mfaEnabled) {
        const factor = deps.secondFactor?.();
        // Fail closed: without the mfa module a two-factor account does not sign in on the password alone.
        if (!factor) throw new AppError("service_unavailable", "two-factor authentication is not available");
        // The password was right, but no session exists until the second factor is: only a 5-minute challenge.
        await db.transaction(async (tx) => {
          if (rehash) await store.updateUser(tx, user.id, { passwordHash: rehash, updatedAt: new Date(now) });
          if (clearLoginKey) await store.clearBackoff(tx, clearLoginKey);
        });
        if (rehash) cache.delete(user.id);
        return factor.challenge(user.id, { useCookies: input.useCookies === true, knownDevice }, meta);
      }
      return completeSignIn(user, { knownDevice, deviceToken: knownDevice ? input.deviceToken : undefined, rehash, clearLoginKey, mfa: false }, meta);
    },

    /** The signed-in user's own view, from the cache. */
    async me(id: string): Promise<UserView> {
      const row = await cachedUser(id);
      if (!row) throw errors.unauthorized("account unavailable");
      return userView(row);
    },

    /** Changes the user's email, display name or birth date; the email needs the current password. */
    async update(id: string, patch: { email?: string; display_name?: string | null; birth_date?: string | null; current_password?: string; code?: string }, meta: ClientMeta): Promise<UserView> {
      const user = await store.findById(db, id);
      if (!user) throw errors.unauthorized("account unavailable");
      const changes: Partial<UserRow> = {};
      const emailChange = patch.email !== undefined && patch.email.trim().toLowerCase() !== user.emailKey;
      if (emailChange) {
        // Whoever controls the email controls password resets: changing it needs both factors.
        await requirePassword(user, patch.current_password);
        await requireSecondFactor(user, patch.code, meta);
        const email = patch.email!.trim();
        if (await store.taken(db, { emailKey: email.toLowerCase() }, id)) throw errors.conflict("username or email is already taken");
        // A new address is unproven until its owner clicks the link.
        Object.assign(changes, { email, emailKey: email.toLowerCase(), emailVerified: false });
      }
      if (patch.display_name !== undefined) changes.displayName = patch.display_name === "" ? null : patch.display_name;
      if (patch.birth_date !== undefined) {
        if (patch.birth_date !== null && !(patch.birth_date < new Date(clock.now()).toISOString().slice(0, 10) && patch.birth_date >= "1900-01-01")) {
          throw errors.invalid("birth_date must be a real date in the past", [{ path: "birth_date", message: "must be a date in the past" }]);
        }
        changes.birthDate = patch.birth_date;
      }
      if (Object.keys(changes).length === 0) return userView(user);
      changes.updatedAt = new Date(clock.now());
      let updated: UserRow | undefined;
      try {
        let token: string | undefined;
        updated = await db.transaction(async (tx) => {
          const row = await store.updateUser(tx, id, changes);
          await audit.record({ eventType: "user.update", result: "success", actor: { userId: id }, ip: meta.ip, userAgent: meta.userAgent, target: id, metadata: { fields: Object.keys(changes).filter((k) => k !== "updatedAt" && k !== "emailKey") } }, tx);
          // The new address gets a link; links sent to the old one die with the change.
          if (emailChange && row) token = await recovery.issueVerification(tx, row);
          return row;
        });
        if (token && updated) recovery.sendVerification(updated, token);
      } catch (error) {
        if (isUniqueViolation(error)) throw errors.conflict("username or email is already taken");
        throw error;
      }
      await changed(id);
      return userView(updated!);
    },

    /** Changes the password after checking the current one; every other session of the user ends. */
    async changePassword(id: string, currentSessionId: string | undefined, input: { current_password: string; new_password: string; code?: string }, meta: ClientMeta): Promise<void> {
      const user = await store.findById(db, id);
      if (!user) throw errors.unauthorized("account unavailable");
      await requirePassword(user, input.current_password);
      await requireSecondFactor(user, input.code, meta);
      const passwordHash = await hasher.hash(policyCheck(input.new_password, user, "new_password"));
      const revoked = await db.transaction(async (tx) => {
        await store.updateUser(tx, id, { passwordHash, updatedAt: new Date(clock.now()) });
        const ids = await sessions.revokeUserIn(tx, id, { reason: "password_change", ...(currentSessionId ? { except: currentSessionId } : {}) });
        await audit.record({ eventType: "password.changed", result: "success", actor: { userId: id }, ip: meta.ip, userAgent: meta.userAgent, target: id, metadata: { sessions_revoked: ids.length } }, tx);
        return ids;
      });
      await sessions.announce(revoked);
      await changed(id);
      notify(user, { type: "password_changed", time: new Date(clock.now()).toISOString(), resetLink: `${publicUrl}/reset-password` });
    },

    /** The user with this username (without regard to case), or null. */
    async byUsername(username: string): Promise<UserView | null> {
      const row = await store.findByUsername(db, username);
      return row ? userView(row) : null;
    },

    /** Admin: a page of users, newest first, optionally searched by username or email prefix. */
    async list(options: { q?: string; cursor?: string; limit?: number }): Promise<{ users: UserView[]; next_cursor: string | null }> {
      const limit = options.limit ?? 50;
      const rows = await store.listUsers(db, { ...(options.q ? { q: options.q } : {}), ...(options.cursor ? { beforeId: options.cursor } : {}), limit: limit + 1 });
      const page = rows.slice(0, limit);
      return { users: page.map(userView), next_cursor: rows.length > limit ? page.at(-1)!.id : null };
    },

    /**
     * Forgets failed-login counters untouched for a day: a lockout lasts an hour at most and the
     * hard cap counts per hour, so older rows only grow the table (and name login attempts).
     */
    async pruneLoginFailures(): Promise<number> {
      return store.pruneLoginFailures(db, new Date(clock.now() - DAY));
    },

    /** Admin: disables or re-enables a user; disabling ends every session and revokes every API key at once. */
    async setDisabled(id: string, disabled: boolean, actor: { userId: string | null; ip?: string | null; userAgent?: string | null }): Promise<void> {
      const { revoked, others } = await db.transaction(async (tx) => {
        const row = await store.updateUser(tx, id, { disabledAt: disabled ? new Date(clock.now()) : null, updatedAt: new Date(clock.now()) });
        if (!row) throw errors.notFound("no such user");
        const ids = disabled ? await sessions.revokeUserIn(tx, id, { reason: "disabled" }) : [];
        const others: { revoker: CredentialRevoker; ids: string[] }[] = [];
        for (const revoker of disabled ? deps.credentials ?? [] : []) others.push({ revoker, ids: await revoker.revokeUserIn(tx, id, "disabled") });
        const counts = Object.fromEntries(others.map((o) => [`${o.revoker.kind}_revoked`, o.ids.length]));
        await audit.record({ eventType: disabled ? "user.disabled" : "user.enabled", result: "success", actor: { userId: actor.userId }, ip: actor.ip ?? null, userAgent: actor.userAgent ?? null, target: id, metadata: { sessions_revoked: ids.length, ...counts } }, tx);
        return { revoked: ids, others };
      });
      await sessions.announce(revoked);
      for (const { revoker, ids } of others) await revoker.announce(ids);
      await changed(id);
    },

    /** Admin or CLI: gives a user the admin role. */
    async promote(username: string, actor: { userId: string | null }): Promise<UserView> {
      const user = await store.findByUsername(db, username);
      if (!user) throw errors.notFound(`no user named ${username}`);
      const row = await db.transaction(async (tx) => {
        const updated = await store.updateUser(tx, user.id, { role: "admin", updatedAt: new Date(clock.now()) });
        await audit.record({ eventType: "user.promote", result: "success", actor, target: user.id, metadata: { role: "admin" } }, tx);
        return updated!;
      });
      await changed(user.id);
      return userView(row);
    },

    /** CLI: imports users with hashes from another backend (bcrypt or Argon2); returns what happened to each row. */
    async importUsers(rows: { username: string; email: string; passwordHash: string }[]): Promise<{ imported: number; skipped: { username: string; reason: string }[] }> {
      const skipped: { username: string; reason: string }[] = [];
      let imported = 0;
      for (const input of rows) {
        if (!/^[A-Za-z0-9_-]{3,50}$/.test(input.username)) { skipped.push({ username: input.username, reason: "invalid username" }); continue; }
        if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(input.email) || input.email.length > 254) { skipped.push({ username: input.username, reason: "invalid email" }); continue; }
        if (!/^\$(2[aby]\$\d\d\$[./A-Za-z0-9]{53}|argon2(id|i|d)\$)/.test(input.passwordHash)) { skipped.push({ username: input.username, reason: "unsupported hash format" }); continue; }
        const keys = { usernameKey: input.username.toLowerCase(), emailKey: input.email.toLowerCase() };
        if (await store.taken(db, keys)) { skipped.push({ username: input.username, reason: "username or email taken" }); continue; }
        const now = new Date(clock.now());
        const id = newId(now.getTime());
        await db.transaction(async (tx) => {
          await store.insertUser(tx, { id, username: input.username, ...keys, email: input.email, passwordHash: input.passwordHash, createdAt: now, updatedAt: now });
          await audit.record({ eventType: "user.import", result: "success", actor: { userId: null }, target: id }, tx);
        });
        imported++;
      }
      return { imported, skipped };
    },
  };
}
