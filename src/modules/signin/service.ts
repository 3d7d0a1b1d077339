// Sign-in: login by password with lockout and device tokens, its second step when two-factor is
// on, and the step-up (password, then a code when two-factor is on) that sensitive changes demand.
// It needs accounts (who the user is), mfa (the second factor) and sessions (what a sign-in makes).
import { linkBase, pageLink } from "../mail/index.js";
import { AppError, errors } from "../../core/errors.js";
import { hmacSha256, randomToken, timingSafeEqualString, type HasherTicket } from "../../core/crypto/index.js";
import type { Executor } from "../../store/db.js";
import type { AccountService } from "../accounts/index.js";
import type { MfaService } from "../mfa/index.js";
import type { Kernel } from "../module.js";
import type { ClientMeta, SessionService, TokenPair } from "../sessions/index.js";
import * as store from "./store.js";

/** What login answers for an account with two-factor on: a 5-minute token for POST /api/auth/mfa/verify. */
export type MfaChallenge = { mfa_required: true; mfa_token: string; expires_in: number };
export type SignedInResult = TokenPair & { device_token: string };
export type LoginResult = SignedInResult | MfaChallenge;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Back-off after the threshold: 30 s, doubling per further failure, at most an hour. */
const BACKOFF_BASE_MS = 30_000;
/** However the client presents itself, no login name gets more than this many failures an hour. */
export const HOURLY_FAILURE_CAP = 100;

export type SignInService = ReturnType<typeof createSignInService>;

/** Builds the sign-in service over the accounts, mfa and sessions services. */
export function createSignInService(
  kernel: Kernel,
  accounts: AccountService,
  mfa: MfaService,
  sessions: SessionService,
) {
  const { db, clock, audit, hasher, metrics, counters, config } = kernel;
  const publicUrl = linkBase(config);

  const deviceTtlMs = config.deviceTokenTtlDays * DAY;
  const deviceMac = (userId: string, issued: string, nonce: string) =>
    hmacSha256(config.secretKey, `device.${userId}.${issued}.${nonce}`).toString("base64url");
  const issueDevice = (userId: string) => {
    const nonce = randomToken(12);
    const issued = clock.now().toString(36);
    return `d2.${userId}.${issued}.${nonce}.${deviceMac(userId, issued, nonce)}`;
  };
  /**
   * A device token proves an earlier successful login of this account from this client. It carries
   * its issue time under the MAC: it expires (DEVICE_TOKEN_TTL_DAYS), and a password reset (the
   * owner taking the account back) ends every token issued before it.
   */
  const validDevice = async (token: string | undefined, userId: string): Promise<boolean> => {
    const parts = token?.split(".") ?? [];
    if (parts.length !== 5 || parts[0] !== "d2" || parts[1] !== userId) return false;
    if (!timingSafeEqualString(parts[4]!, deviceMac(userId, parts[2]!, parts[3]!))) return false;
    const issued = Number.parseInt(parts[2]!, 36);
    if (!Number.isSafeInteger(issued) || clock.now() - issued >= deviceTtlMs) return false;
    const notBefore = await store.devicesNotBefore(db, userId);
    return notBefore === undefined || issued >= notBefore.getTime();
  };

  // Failures are counted twice: per login name as typed (username or email, whether or not an
  // account has it) and per account. Only the name's count answers 429: an account's count locks
  // silently, answering like a wrong password, so locking a username says nothing about which email
  // belongs to the same account. Both are stored as HMACs, since people type passwords into the login field.
  const nameKeyOf = (name: string) => hmacSha256(config.secretKey, `login-name:${name}`).toString("hex");
  const accountKeyOf = (userId: string) => hmacSha256(config.secretKey, `login-user:${userId}`).toString("hex");

  /** Whether a counter holds a lock now: its end, and whether it is the hourly cap (which no device escapes). */
  const lockOf = (record: store.LoginFailureRow | undefined, now: number): { until: Date; capped: boolean } | null => {
    if (!record) return null;
    const capped = record.windowFailures >= HOURLY_FAILURE_CAP && now - record.windowStart.getTime() < HOUR;
    if (record.lockedUntil && record.lockedUntil.getTime() > now) return { until: record.lockedUntil, capped };
    return capped ? { until: new Date(record.windowStart.getTime() + HOUR), capped } : null;
  };
  const holds = (lock: { capped: boolean } | null, knownDevice: boolean) =>
    lock !== null && (lock.capped || !knownDevice);
  const retryAfter = (until: Date, now: number) => Math.max(1, Math.ceil((until.getTime() - now) / 1000));

  /** Records a lock that just started: audit, metric, and a mail to the owner at most once an hour. */
  const announceLock = async (userId: string | null, until: Date, meta: ClientMeta) => {
    metrics.authFailures.inc({ reason: "lockout" });
    await audit.record({
      eventType: "auth.lockout",
      result: "denied",
      actor: { userId },
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { until: until.toISOString() },
    });
    // Every failure past the threshold extends the lock: a guessing attacker must not turn the notice into a mail flood.
    if (userId && (await counters.once(`mail:lockout:${userId}`, 3600))) {
      await accounts.notify(userId, {
        type: "lockout",
        until: until.toISOString(),
        resetLink: pageLink(config, "reset_password"),
      });
    }
  };

  /** Creates the session of a completed sign-in (password, and the second factor when on). */
  const completeSignIn = async (
    userId: string,
    options: {
      knownDevice: boolean;
      deviceToken: string | undefined;
      rehash?: string | undefined;
      clearLoginKeys?: string[] | undefined;
      mfa: boolean;
    },
    meta: ClientMeta,
  ): Promise<SignedInResult> => {
    const created = await db.transaction(async (tx) => {
      if (options.rehash) await accounts.setPasswordHash(tx, userId, options.rehash);
      for (const key of options.clearLoginKeys ?? []) await store.clearBackoff(tx, key);
      const session = await sessions.create(tx, userId, meta);
      await audit.record(
        {
          eventType: "auth.login",
          result: "success",
          actor: { userId },
          ip: meta.ip,
          userAgent: meta.userAgent,
          target: session.sessionId,
          metadata: { rehashed: options.rehash !== undefined, known_device: options.knownDevice, mfa: options.mfa },
        },
        tx,
      );
      return session;
    });
    if (options.rehash) await accounts.forget(userId);
    const pair = await sessions.pair(userId, created.sessionId, created.refreshToken);
    // A device without a device token of this account is new: tell the owner, who may not be the one signing in.
    if (!options.knownDevice)
      await accounts.notify(userId, {
        type: "new_sign_in",
        ip: meta.ip,
        userAgent: meta.userAgent,
        time: new Date(clock.now()).toISOString(),
        sessionsLink: `${publicUrl}/account/sessions`,
      });
    return { ...pair, device_token: options.deviceToken ?? issueDevice(userId) };
  };

  const failurePolicy: store.FailurePolicy = {
    threshold: config.lockoutThreshold,
    backoffBaseMs: BACKOFF_BASE_MS,
    maxBackoffMs: HOUR,
    hourlyCap: HOURLY_FAILURE_CAP,
  };
  /** Counts a failure against a counter (a name or an account); returns the lock's end when this failure started one. */
  const recordFailure = async (loginKey: string, now: number): Promise<Date | null> => {
    const { lockedUntil, previousLock } = await store.countFailure(db, loginKey, new Date(now), failurePolicy);
    // Only a lock that starts now is news: one already running is merely extended.
    const wasLocked = previousLock !== null && previousLock.getTime() > now;
    return lockedUntil && !wasLocked ? lockedUntil : null;
  };

  /** A login once the hasher has a place for its verification (`ticket`). */
  const attempt = async (
    input: { login: string; password: string; deviceToken?: string | undefined; useCookies?: boolean },
    meta: ClientMeta,
    ticket: HasherTicket,
  ): Promise<LoginResult> => {
    const name = input.login.normalize("NFKC").trim().toLowerCase();

    const password = accounts.normalizePassword(input.password);
    const now = clock.now();
    const user = await accounts.findForLogin(name);
    const nameKey = nameKeyOf(name);
    const accountKey = user ? accountKeyOf(user.id) : undefined;
    const knownDevice = user !== undefined && (await validDevice(input.deviceToken, user.id));
    const nameLock = lockOf(await store.readFailures(db, nameKey), now);
    // A device that signed in to this account before is exempt from the back-off, so an attacker
    // hammering a name cannot lock its owner out; the hourly cap holds for everyone.
    if (holds(nameLock, knownDevice)) {
      metrics.authFailures.inc({ reason: "locked" });
      // Refused logins write nothing else: their rows share a transaction with others of the moment.
      await audit.recordGrouped({
        eventType: "auth.login",
        result: "denied",
        actor: { userId: user?.id ?? null },
        ip: meta.ip,
        userAgent: meta.userAgent,
        metadata: { reason: "locked" },
      });
      throw errors.rateLimited(retryAfter(nameLock!.until, now));
    }
    const accountLock = accountKey ? lockOf(await store.readFailures(db, accountKey), now) : null;
    const accountLocked = holds(accountLock, knownDevice);

    let reason: string | undefined;
    if (!user || user.passwordHash === null) {
      // Hash a dummy password so an unknown user takes as long as a known one.
      await hasher.verifyDummy(password, ticket);
      reason = user ? "no_password" : "unknown_user";
    } else if (!(await hasher.verify(user.passwordHash, password, ticket))) {
      reason = "bad_password";
    } else if (user.disabledAt !== null) {
      reason = "disabled";
    } else if (accountLocked) {
      // Locked through the account's other name or a step-up: refused like a wrong password (the
      // password was still checked, so the timing is the same), never with a 429 that would tell
      // an attacker this name and the locked one are the same account.
      reason = "account_locked";
    }
    if (reason || !user || user.passwordHash === null) {
      // The name counts every failure (it must lock exactly as any other name would); the account,
      // like a name answering 429, does not count attempts refused while it is locked.
      const nameStarted = await recordFailure(nameKey, now);
      const accountStarted = accountKey && !accountLocked ? await recordFailure(accountKey, now) : null;
      metrics.authFailures.inc({ reason: "invalid_credentials" });
      await audit.recordGrouped({
        eventType: "auth.login",
        result: "failure",
        actor: { userId: user?.id ?? null },
        ip: meta.ip,
        userAgent: meta.userAgent,
        metadata: { reason: reason ?? "unknown_user" },
      });
      const started = accountStarted ?? nameStarted;
      if (started) await announceLock(user?.id ?? null, started, meta);
      throw new AppError("invalid_credentials", "invalid login or password");
    }

    // Parameters live in the hash: an older or imported (bcrypt) hash is upgraded now that we hold the password.
    const rehash = hasher.needsRehash(user.passwordHash) ? await hasher.hash(password) : undefined;
    // A known device getting in while a count is locked leaves that lock in place for everyone else.
    const clearLoginKeys = [...(nameLock ? [] : [nameKey]), ...(accountLock ? [] : [accountKey!])];
    if (user.mfaEnabled) {
      // The password was right, but no session exists until the second factor is: only a 5-minute challenge.
      await db.transaction(async (tx) => {
        if (rehash) await accounts.setPasswordHash(tx, user.id, rehash);
        for (const key of clearLoginKeys) await store.clearBackoff(tx, key);
      });
      if (rehash) await accounts.forget(user.id);
      return mfa.challenge(user.id, { useCookies: input.useCookies === true, knownDevice }, meta);
    }
    return completeSignIn(
      user.id,
      { knownDevice, deviceToken: knownDevice ? input.deviceToken : undefined, rehash, clearLoginKeys, mfa: false },
      meta,
    );
  };

  return {
    /**
     * Signs in by username or email. Every failure answers the same (invalid_credentials) and costs
     * one password verification, so neither the answer nor its timing tells whether the account exists.
     */
    async login(
      input: { login: string; password: string; deviceToken?: string | undefined; useCookies?: boolean },
      meta: ClientMeta,
    ): Promise<LoginResult> {
      // Capacity first: a login the password hasher has no place for is refused (503) before any
      // query, so a flood beyond the hasher's queue costs the database nothing.
      const ticket = hasher.admit();
      try {
        return await attempt(input, meta, ticket);
      } finally {
        ticket.release();
      }
    },

    /** The second step of a login: the challenge token and a code; the token pair is as login's. */
    async completeMfa(
      mfaToken: string,
      code: string,
      meta: ClientMeta,
    ): Promise<{ pair: SignedInResult; useCookies: boolean }> {
      const passed = await mfa.passChallenge(mfaToken, code, meta);
      const user = await accounts.findById(passed.userId);
      if (!user || user.disabledAt !== null || user.passwordHash === null)
        throw new AppError("invalid_credentials", "invalid or expired mfa_token");
      // The device token is not kept with the challenge: a fresh one is issued, valid like the old.
      const pair = await completeSignIn(
        user.id,
        { knownDevice: passed.knownDevice, deviceToken: undefined, mfa: true },
        meta,
      );
      return { pair, useCookies: passed.useCookies };
    },

    /**
     * The password again before a sensitive change, counted like a login: a wrong one is a failure
     * of the account's login budget, and while the account is locked no password is accepted, so a
     * stolen session cannot guess the password faster than a login could. 403 when wrong, 429 when locked.
     */
    async checkPassword(
      userId: string,
      password: string | undefined,
      field: string,
      meta: ClientMeta,
      deviceToken?: string | undefined,
    ): Promise<void> {
      if (!password)
        throw errors.invalid(`${field} is required for this change`, [{ path: field, message: "is required" }]);
      const user = await accounts.findById(userId);
      if (!user) throw errors.unauthorized("account unavailable");
      const now = clock.now();
      const accountKey = accountKeyOf(userId);
      // The session holder knows which account this is: the lock can be told (429), unlike at login.
      const lock = lockOf(await store.readFailures(db, accountKey), now);
      if (holds(lock, await validDevice(deviceToken, userId))) {
        await audit.record({
          eventType: "auth.step_up",
          result: "denied",
          actor: { userId },
          ip: meta.ip,
          userAgent: meta.userAgent,
          metadata: { reason: "locked" },
        });
        throw errors.rateLimited(retryAfter(lock!.until, now));
      }
      const ok =
        user.passwordHash !== null && (await hasher.verify(user.passwordHash, accounts.normalizePassword(password)));
      if (!ok) {
        const started = await recordFailure(accountKey, now);
        metrics.authFailures.inc({ reason: "step_up" });
        await audit.record({
          eventType: "auth.step_up",
          result: "failure",
          actor: { userId },
          ip: meta.ip,
          userAgent: meta.userAgent,
          metadata: { reason: "bad_password" },
        });
        if (started) await announceLock(userId, started, meta);
        throw errors.forbidden(`${field} is wrong`);
      }
    },

    /**
     * Step-up before a sensitive change: the current password, and a code when two-factor is on,
     * so a stolen session (or a stolen password) alone cannot take over the account.
     */
    async stepUp(
      userId: string,
      proof: { password: string | undefined; code: string | undefined; deviceToken?: string | undefined },
      meta: ClientMeta,
    ): Promise<void> {
      await this.checkPassword(userId, proof.password, "current_password", meta, proof.deviceToken);
      const user = await accounts.findById(userId);
      if (!user?.mfaEnabled) return;
      if (!proof.code)
        throw errors.invalid("code is required: two-factor authentication is on", [
          { path: "code", message: "is required when two-factor is on" },
        ]);
      await mfa.check(userId, proof.code, meta);
    },

    /**
     * Sudo mode: the password, or a code when two-factor is on, marks the session as recently
     * re-authenticated; creating an API key then needs no second prompt for STEP_UP_TTL seconds.
     */
    async sudo(
      userId: string,
      sessionId: string | undefined,
      proof: { password: string | undefined; code: string | undefined; deviceToken?: string | undefined },
      meta: ClientMeta,
    ): Promise<{ step_up_expires_at: string }> {
      if (!sessionId) throw errors.forbidden("step-up needs a signed-in session");
      if (proof.code !== undefined && proof.password === undefined) {
        const user = await accounts.findById(userId);
        if (!user?.mfaEnabled)
          throw errors.invalid("password is required: two-factor authentication is off", [
            { path: "password", message: "is required" },
          ]);
        await mfa.check(userId, proof.code, meta);
      } else {
        await this.checkPassword(userId, proof.password, "password", meta, proof.deviceToken);
      }
      const until = new Date(clock.now() + config.stepUpTtl * 1000);
      await sessions.markSteppedUp(sessionId, new Date(clock.now()));
      await audit.record({
        eventType: "auth.step_up",
        result: "success",
        actor: { userId },
        ip: meta.ip,
        userAgent: meta.userAgent,
        target: sessionId,
        metadata: { method: proof.password !== undefined ? "password" : "code" },
      });
      return { step_up_expires_at: until.toISOString() };
    },

    /** Clears the login back-off of a user: a completed password reset proves the owner is back. */
    async clearLockout(tx: Executor, userId: string): Promise<void> {
      await store.clearBackoff(tx, accountKeyOf(userId));
      const names = await accounts.loginNames(tx, userId);
      for (const name of names) await store.clearBackoff(tx, nameKeyOf(name));
    },

    /** Ends every device token of a user issued before now: a password reset takes the account back. */
    async forgetDevices(tx: Executor, userId: string): Promise<void> {
      await store.setDevicesNotBefore(tx, userId, new Date(clock.now()));
    },

    /**
     * Forgets failed-login counters untouched for a day: a lockout lasts an hour at most and the
     * hard cap counts per hour, so older rows only grow the table (and name login attempts).
     */
    async pruneLoginFailures(): Promise<number> {
      return store.pruneLoginFailures(db, new Date(clock.now() - DAY));
    },
  };
}
