// Sign-in: login by password with lockout and device tokens, its second step when two-factor is
// on, and the step-up (password, then a code when two-factor is on) that sensitive changes demand.
// It needs accounts (who the user is), mfa (the second factor) and sessions (what a sign-in makes).
import { linkBase, pageLink } from "../mail/index.js";
import { AppError, errors } from "../../core/errors.js";
import { hmacSha256, randomToken, timingSafeEqualString } from "../../core/crypto/index.js";
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
export function createSignInService(kernel: Kernel, accounts: AccountService, mfa: MfaService, sessions: SessionService) {
  const { db, clock, audit, hasher, metrics, counters, config } = kernel;
  const publicUrl = linkBase(config);

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

  const loginKeyOf = (userId: string) => hmacSha256(config.secretKey, `login-user:${userId}`).toString("hex");

  /** Creates the session of a completed sign-in (password, and the second factor when on). */
  const completeSignIn = async (userId: string, options: { knownDevice: boolean; deviceToken: string | undefined; rehash?: string | undefined; clearLoginKey?: string | undefined; mfa: boolean }, meta: ClientMeta): Promise<SignedInResult> => {
    const created = await db.transaction(async (tx) => {
      if (options.rehash) await accounts.setPasswordHash(tx, userId, options.rehash);
      if (options.clearLoginKey) await store.clearBackoff(tx, options.clearLoginKey);
      const session = await sessions.create(tx, userId, meta);
      await audit.record({
        eventType: "auth.login", result: "success", actor: { userId }, ip: meta.ip, userAgent: meta.userAgent,
        target: session.sessionId, metadata: { rehashed: options.rehash !== undefined, known_device: options.knownDevice, mfa: options.mfa },
      }, tx);
      return session;
    });
    if (options.rehash) await accounts.forget(userId);
    const pair = await sessions.pair(userId, created.sessionId, created.refreshToken);
    // A device without a device token of this account is new: tell the owner, who may not be the one signing in.
    if (!options.knownDevice) await accounts.notify(userId, { type: "new_sign_in", ip: meta.ip, userAgent: meta.userAgent, time: new Date(clock.now()).toISOString(), sessionsLink: `${publicUrl}/account/sessions` });
    return { ...pair, device_token: options.deviceToken ?? issueDevice(userId) };
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
    /**
     * Signs in by username or email. Every failure answers the same (invalid_credentials) and costs
     * one password verification, so neither the answer nor its timing tells whether the account exists.
     */
    async login(input: { login: string; password: string; deviceToken?: string | undefined; useCookies?: boolean }, meta: ClientMeta): Promise<LoginResult> {
      const name = input.login.normalize("NFKC").trim().toLowerCase();
      const password = accounts.normalizePassword(input.password);
      const now = clock.now();
      const user = await accounts.findForLogin(name);
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
          if (user && (await counters.once(`mail:lockout:${user.id}`, 3600))) {
            await accounts.notify(user.id, { type: "lockout", until: lock.toISOString(), resetLink: pageLink(config, "reset_password") });
          }
        }
        throw new AppError("invalid_credentials", "invalid login or password");
      }

      // Parameters live in the hash: an older or imported (bcrypt) hash is upgraded now that we hold the password.
      const rehash = hasher.needsRehash(user.passwordHash) ? await hasher.hash(password) : undefined;
      // A known device getting in while the name is locked leaves the lock in place for everyone else.
      const clearLoginKey = lockedUntil ? undefined : loginKey;
      if (user.mfaEnabled) {
        // The password was right, but no session exists until the second factor is: only a 5-minute challenge.
        await db.transaction(async (tx) => {
          if (rehash) await accounts.setPasswordHash(tx, user.id, rehash);
          if (clearLoginKey) await store.clearBackoff(tx, clearLoginKey);
        });
        if (rehash) await accounts.forget(user.id);
        return mfa.challenge(user.id, { useCookies: input.useCookies === true, knownDevice }, meta);
      }
      return completeSignIn(user.id, { knownDevice, deviceToken: knownDevice ? input.deviceToken : undefined, rehash, clearLoginKey, mfa: false }, meta);
    },

    /** The second step of a login: the challenge token and a code; the token pair is as login's. */
    async completeMfa(mfaToken: string, code: string, meta: ClientMeta): Promise<{ pair: SignedInResult; useCookies: boolean }> {
      const passed = await mfa.passChallenge(mfaToken, code, meta);
      const user = await accounts.findById(passed.userId);
      if (!user || user.disabledAt !== null || user.passwordHash === null) throw new AppError("invalid_credentials", "invalid or expired mfa_token");
      // The device token is not kept with the challenge: a fresh one is issued, valid like the old.
      const pair = await completeSignIn(user.id, { knownDevice: passed.knownDevice, deviceToken: undefined, mfa: true }, meta);
      return { pair, useCookies: passed.useCookies };
    },

    /**
     * Step-up before a sensitive change: the current password, and a code when two-factor is on,
     * so a stolen session (or a stolen password) alone cannot take over the account.
     */
    async stepUp(userId: string, proof: { password: string | undefined; code: string | undefined }, meta: ClientMeta): Promise<void> {
      await accounts.verifyPassword(userId, proof.password, "current_password");
      const user = await accounts.findById(userId);
      if (!user?.mfaEnabled) return;
      if (!proof.code) throw errors.invalid("code is required: two-factor authentication is on", [{ path: "code", message: "is required when two-factor is on" }]);
      await mfa.check(userId, proof.code, meta);
    },

    /** Clears the login back-off of a user: a completed password reset proves the owner is back. */
    async clearLockout(tx: Executor, userId: string): Promise<void> {
      await store.clearBackoff(tx, loginKeyOf(userId));
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
