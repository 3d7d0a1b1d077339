// Two-factor authentication with TOTP: setup, enable (with recovery codes), disable, the login
// challenge and the code check other modules ask for before a sensitive change.
import { pageLink } from "../mail/index.js";
import { AppError, errors } from "../../core/errors.js";
import { hmacSha256Hex, randomToken } from "../../core/crypto/index.js";
import { randomBase32 } from "./codes.js";
import type { AccountService } from "../accounts/index.js";
import type { Executor } from "../../store/db.js";
import type { Kernel } from "../module.js";
import type { ClientMeta } from "../sessions/index.js";
import * as store from "./store.js";
import { generateTotpSecret, matchTotp, otpauthUrl } from "./totp.js";

export type MfaDeps = Pick<Kernel, "db" | "clock" | "audit" | "keyring" | "config" | "credentials"> & {
  /** Owns `users`: the `mfa_enabled` flag, notices, whether the address is proven. */
  accounts: Pick<AccountService, "setMfaEnabled" | "forget" | "notify" | "me" | "requireVerifiedEmail">;
};

export const CHALLENGE_TTL_S = 300;
/** Wrong codes one mfa_token allows before it dies. */
export const MAX_ATTEMPTS = 5;
/** Consecutive wrong codes of a user before the per-user back-off starts (30 s, doubling, at most an hour). */
export const BACKOFF_AFTER = 5;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_MAX_MS = 3_600_000;
export const RECOVERY_CODE_COUNT = 10;

type CodeContext = "login" | "disable" | "change";

/** The row and column a TOTP secret is bound to: a ciphertext moved to another user does not decrypt. */
const secretContext = (userId: string) => ({ table: "mfa_totp", column: "secret", row: userId });

/** A recovery code as typed: case, spaces and dashes do not matter. */
const normalizeRecovery = (code: string) => code.toLowerCase().replace(/[\s-]/g, "");

export type MfaService = ReturnType<typeof createMfaService>;

/** Builds the two-factor service. */
export function createMfaService(deps: MfaDeps) {
  const { db, clock, audit, keyring, accounts, config } = deps;
  // The authenticator app lists the account under this name: the product, not the API's host.
  const issuer = config.appName;
  const hashRecovery = (userId: string, code: string) =>
    hmacSha256Hex(config.secretKey, `mfa-recovery:${userId}:${normalizeRecovery(code)}`);
  const hashChallenge = (token: string) => hmacSha256Hex(config.secretKey, `mfa-challenge:${token}`);
  const actorOf = (userId: string, meta: ClientMeta) => ({
    actor: { userId },
    ip: meta.ip,
    userAgent: meta.userAgent,
    target: userId,
  });

  const lockFor = (failures: number): Date | null =>
    failures >= BACKOFF_AFTER
      ? new Date(clock.now() + Math.min(BACKOFF_BASE_MS * 2 ** (failures - BACKOFF_AFTER), BACKOFF_MAX_MS))
      : null;

  /**
   * Whether `code` is a valid TOTP code (of a step never used before) or an unused recovery code of
   * the user; a valid code is used up. Wrong codes count towards the per-user back-off.
   */
  const checkCode = async (userId: string, code: string, meta: ClientMeta, context: CodeContext): Promise<boolean> => {
    const now = clock.now();
    const row = await store.findTotp(db, userId);
    if (!row?.enabledAt) return false;
    if (row.lockedUntil && row.lockedUntil.getTime() > now) {
      await audit.record({
        eventType: "mfa.verify",
        result: "denied",
        ...actorOf(userId, meta),
        metadata: { context, reason: "backoff" },
      });
      throw errors.rateLimited(Math.max(1, Math.ceil((row.lockedUntil.getTime() - now) / 1000)));
    }
    let reason: string | null = null;
    let recovery = false;
    if (/^[0-9]{6}$/.test(code)) {
      const step = matchTotp(keyring.decryptString(row.secret, secretContext(userId)), code, now);
      if (step === null) reason = "wrong_code";
      // Each step once: a code seen over a shoulder or phished in real time is dead once used.
      else if (!(await store.claimStep(db, userId, step))) reason = "replayed";
    } else {
      recovery = await store.useRecoveryCode(db, userId, hashRecovery(userId, code), new Date(now));
      if (!recovery) reason = "wrong_recovery_code";
    }
    if (reason) {
      const failures = await store.addFailure(db, userId, lockFor);
      await audit.record({
        eventType: "mfa.verify",
        result: "failure",
        ...actorOf(userId, meta),
        metadata: { context, reason, failures },
      });
      return false;
    }
    if (row.failures > 0) await store.clearFailures(db, userId);
    if (recovery) {
      const left = await store.unusedRecoveryCodes(db, userId);
      await audit.record({
        eventType: "mfa.recovery_code_used",
        result: "success",
        ...actorOf(userId, meta),
        metadata: { context, remaining: left },
      });
    }
    return true;
  };

  const newRecoveryCodes = (): string[] =>
    Array.from({ length: RECOVERY_CODE_COUNT }, () => {
      // 10 base32 characters: 50 bits each, more than enough for a single-use, rate-limited code.
      const raw = randomBase32(10);
      return `${raw.slice(0, 5)}-${raw.slice(5)}`;
    });

  return {
    /**
     * Re-authenticates with `prove` (the signin module's password check, counted like a login), then
     * stores a fresh secret (not yet on) and returns it once.
     */
    async setup(
      userId: string,
      prove: () => Promise<void>,
      meta: ClientMeta,
    ): Promise<{ secret: string; otpauth_url: string; qr_svg: string }> {
      await prove();
      // A second factor enrolled on an address nobody proved would lock its real owner out after a reset.
      await accounts.requireVerifiedEmail(userId, "turning on two-factor authentication");
      const existing = await store.findTotp(db, userId);
      if (existing?.enabledAt) throw errors.invalid("two-factor authentication is already on; disable it first");
      const secret = generateTotpSecret();
      const user = await accounts.me(userId);
      await db.transaction(async (tx) => {
        await store.savePendingTotp(tx, {
          userId,
          secret: keyring.encrypt(secret, secretContext(userId)),
          createdAt: new Date(clock.now()),
        });
        await audit.record({ eventType: "mfa.totp_setup", result: "success", ...actorOf(userId, meta) }, tx);
      });
      const url = otpauthUrl(secret, { issuer, label: user.username });
      // Rendered here, so a page can show the code without sending the secret to a third-party QR service.
      // Loaded at the first two-factor setup, not at start.
      const { default: QRCode } = await import("qrcode");
      const svg = await QRCode.toString(url, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
      return { secret, otpauth_url: url, qr_svg: svg };
    },

    /** Turns two-factor on after a valid code from the new secret; returns the recovery codes, once. */
    async enable(userId: string, code: string, meta: ClientMeta): Promise<{ recovery_codes: string[] }> {
      const row = await store.findTotp(db, userId);
      if (!row) throw errors.invalid("no two-factor setup in progress; call POST /api/auth/mfa/totp/setup first");
      if (row.enabledAt) throw errors.invalid("two-factor authentication is already on");
      // Checked again: the address may have changed (and be unproven) since the setup.
      await accounts.requireVerifiedEmail(userId, "turning on two-factor authentication");
      const now = clock.now();
      if (row.lockedUntil && row.lockedUntil.getTime() > now)
        throw errors.rateLimited(Math.max(1, Math.ceil((row.lockedUntil.getTime() - now) / 1000)));
      const step = matchTotp(keyring.decryptString(row.secret, secretContext(userId)), code, now);
      if (step === null || !(await store.claimStep(db, userId, step))) {
        const failures = await store.addFailure(db, userId, lockFor);
        await audit.record({
          eventType: "mfa.verify",
          result: "failure",
          ...actorOf(userId, meta),
          metadata: { context: "enable", reason: step === null ? "wrong_code" : "replayed", failures },
        });
        throw errors.forbidden("code is wrong or was already used");
      }
      const codes = newRecoveryCodes();
      await db.transaction(async (tx) => {
        await store.enableTotp(tx, userId, new Date(now));
        await store.replaceRecoveryCodes(
          tx,
          userId,
          codes.map((c) => hashRecovery(userId, c)),
          new Date(now),
        );
        await accounts.setMfaEnabled(tx, userId, true);
        await audit.record(
          {
            eventType: "mfa.enable",
            result: "success",
            ...actorOf(userId, meta),
            metadata: { method: "totp", recovery_codes: codes.length },
          },
          tx,
        );
      });
      await accounts.forget(userId);
      await accounts.notify(userId, { type: "mfa_enabled", time: new Date(now).toISOString() });
      return { recovery_codes: codes };
    },

    /** Turns two-factor off: needs the password (`prove`, counted like a login) and a TOTP or recovery code. */
    async disable(userId: string, prove: () => Promise<void>, code: string, meta: ClientMeta): Promise<void> {
      await prove();
      const row = await store.findTotp(db, userId);
      if (!row?.enabledAt) throw errors.invalid("two-factor authentication is not on");
      if (!(await checkCode(userId, code, meta, "disable")))
        throw errors.forbidden("code is wrong or was already used");
      const now = clock.now();
      await db.transaction(async (tx) => {
        await store.deleteTotp(tx, userId);
        await accounts.setMfaEnabled(tx, userId, false);
        await audit.record(
          { eventType: "mfa.disable", result: "success", ...actorOf(userId, meta), metadata: { method: "totp" } },
          tx,
        );
      });
      await accounts.forget(userId);
      await accounts.notify(userId, {
        type: "mfa_disabled",
        time: new Date(now).toISOString(),
        resetLink: pageLink(config, "reset_password"),
      });
    },

    /**
     * Operator: turns two-factor off for a user who lost both the device and the recovery codes
     * (once their identity was checked out of band). Every session ends too, since the lost device
     * may still hold one; the owner is told by mail. Returns the sessions ended; undefined when
     * two-factor was not on.
     */
    async reset(userId: string, actor: { via: string }): Promise<number | undefined> {
      const row = await store.findTotp(db, userId);
      if (!row?.enabledAt) return undefined;
      const now = clock.now();
      const { ended, announce } = await db.transaction(async (tx) => {
        await store.deleteTotp(tx, userId);
        await accounts.setMfaEnabled(tx, userId, false);
        const revoked = await deps.credentials.revoked(tx, userId, { reason: "mfa_reset" });
        const count = revoked.sessions?.count ?? 0;
        await audit.record(
          {
            eventType: "mfa.disable",
            result: "success",
            actor: { userId: null },
            target: userId,
            metadata: { method: "operator_reset", via: actor.via },
          },
          tx,
        );
        return { ended: count, announce: () => Promise.all(Object.values(revoked).map((r) => r.announce())) };
      });
      await announce();
      await accounts.forget(userId);
      await accounts.notify(userId, {
        type: "mfa_disabled",
        time: new Date(now).toISOString(),
        resetLink: pageLink(config, "reset_password"),
      });
      return ended;
    },

    /**
     * Inside a password reset's transaction: removes two-factor enrolled (or set up) before the
     * account first proved its address (`provenAt`; null: never), which may be whoever registered
     * the address first. Returns 1 when something was removed; `forget` the user after commit.
     */
    async removeUnprovenIn(tx: Executor, userId: string, provenAt: Date | null): Promise<number> {
      const row = await store.findTotp(tx, userId);
      if (!row) return 0;
      const enrolledAt = row.enabledAt ?? row.createdAt;
      if (provenAt !== null && enrolledAt.getTime() >= provenAt.getTime()) return 0;
      await store.deleteTotp(tx, userId);
      await accounts.setMfaEnabled(tx, userId, false);
      await audit.record(
        {
          eventType: "mfa.disable",
          result: "success",
          actor: { userId: null },
          target: userId,
          metadata: { method: "password_reset", enrolled_before_proof: true, was_on: row.enabledAt !== null },
        },
        tx,
      );
      return row.enabledAt ? 1 : 0;
    },

    /** The second factor of a login: a 5-minute, single-use challenge token (stored as an HMAC). */
    async challenge(userId: string, options: { useCookies: boolean; knownDevice: boolean }, meta: ClientMeta) {
      const token = randomToken(32);
      const now = clock.now();
      await db.transaction(async (tx) => {
        await store.insertChallenge(tx, {
          tokenHash: hashChallenge(token),
          userId,
          createdAt: new Date(now),
          expiresAt: new Date(now + CHALLENGE_TTL_S * 1000),
          useCookies: options.useCookies,
          knownDevice: options.knownDevice,
        });
        await audit.record({ eventType: "mfa.challenge", result: "success", ...actorOf(userId, meta) }, tx);
      });
      return { mfa_required: true as const, mfa_token: token, expires_in: CHALLENGE_TTL_S };
    },

    /** Checks a login's second step (the challenge token and a code); the signin module then makes the session. */
    async passChallenge(
      mfaToken: string,
      code: string,
      meta: ClientMeta,
    ): Promise<{ userId: string; knownDevice: boolean; useCookies: boolean }> {
      const now = new Date(clock.now());
      const hash = hashChallenge(mfaToken);
      // An attempt is taken before the code is checked, so parallel guesses cannot exceed the cap.
      const challenge = await store.takeAttempt(db, hash, MAX_ATTEMPTS, now);
      if (!challenge) {
        await audit.record({
          eventType: "mfa.verify",
          result: "failure",
          actor: { userId: null },
          ip: meta.ip,
          userAgent: meta.userAgent,
          metadata: { context: "login", reason: "invalid_token" },
        });
        throw new AppError("invalid_credentials", "invalid or expired mfa_token; sign in again");
      }
      if (!(await checkCode(challenge.userId, code, meta, "login"))) {
        const left = MAX_ATTEMPTS - challenge.attempts;
        throw new AppError(
          "invalid_credentials",
          left > 0 ? "wrong code" : "wrong code; this mfa_token is used up, sign in again",
        );
      }
      if (!(await store.consumeChallenge(db, hash, now)))
        throw new AppError("invalid_credentials", "invalid or expired mfa_token; sign in again");
      await audit.record({
        eventType: "mfa.verify",
        result: "success",
        ...actorOf(challenge.userId, meta),
        metadata: { context: "login" },
      });
      return { userId: challenge.userId, knownDevice: challenge.knownDevice, useCookies: challenge.useCookies };
    },

    /** For sensitive changes (email, password): throws unless the code is valid. */
    async check(userId: string, code: string, meta: ClientMeta): Promise<void> {
      if (!(await checkCode(userId, code, meta, "change"))) throw errors.forbidden("code is wrong or was already used");
    },
  };
}
