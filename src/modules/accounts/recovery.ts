// Email verification and password reset: one-time tokens sent by mail. Tokens are 256-bit, stored
// only as an HMAC under SECRET_KEY, single use, and short-lived (24 h to verify, 30 min to reset).
import type { Clock } from "../../core/clock.js";
import { errors } from "../../core/errors.js";
import { hmacSha256Hex, randomToken } from "../../core/crypto/index.js";
import type { PasswordHasher } from "../../core/crypto/password.js";
import { clientKey } from "../../http/client-ip.js";
import type { Counters } from "../../store/counters.js";
import type { Database, Executor } from "../../store/db.js";
import type { AuditService } from "../audit/index.js";
import { pageLink, type Mailer } from "../mail/index.js";
import type { RevokeReason } from "../module.js";
import type { Config } from "../../config/types.js";
import type { ClientMeta } from "../sessions/index.js";
import { emailKeyOf, isAdminEmail } from "./admin-email.js";
import * as store from "./store.js";
import type { UserRow } from "./store.js";

export const VERIFY_TTL_MS = 24 * 3_600_000;
export const RESET_TTL_MS = 30 * 60_000;
/** How long the old address can undo an email change (GitHub and Google give days, not minutes: the owner may be away). */
export const UNDO_EMAIL_TTL_MS = 7 * 24 * 3_600_000;
/** Reset mails per address an hour; beyond it `forgot` still answers 202 but sends nothing. */
export const RESET_MAILS_PER_EMAIL_HOUR = 3;
/** `forgot` calls per client IP an hour (on top of the route's per-minute budget). */
export const RESET_REQUESTS_PER_IP_HOUR = 20;
/** Verification mails a user may ask for in an hour. */
export const VERIFY_MAILS_PER_HOUR = 5;

export type RecoveryDeps = {
  db: Database;
  clock: Clock;
  audit: AuditService;
  mailer: Mailer;
  counters: Counters;
  hasher: PasswordHasher;
  secretKey: string;
  /** Where mailed links land (FRONTEND_URL or the built-in pages; REDIRECT_URLS). */
  links: Pick<Config, "publicUrl" | "frontendUrl" | "redirectUrls">;
  /** The admin addresses as of now (`BOOTSTRAP_ADMIN_EMAIL` counts only while no admin exists). */
  adminEmails: () => Promise<readonly string[]>;
  policyCheck(password: string, user: { username: string; email: string }, field: string): string;
  /** Drops the user from every instance's cache after a change. */
  changed(id: string): Promise<void>;
  /** Revokes everything the user holds across modules inside `tx` (sessions, API keys, the login back-off, …). */
  revokeAll(
    tx: Executor,
    userId: string,
    why: RevokeReason,
  ): Promise<{ counts: Record<string, number>; announce(): Promise<void> }>;
  /** Whether another account holds this address (lower-cased). */
  emailTakenByOther(emailKey: string, userId: string): Promise<boolean>;
};

const invalidToken = () =>
  errors.invalid("token is invalid, used or expired", [{ path: "token", message: "is invalid, used or expired" }]);

/** Builds the verification and reset operations the accounts service exposes. */
export function createRecovery(deps: RecoveryDeps) {
  const { db, clock, audit, mailer, counters } = deps;
  const hashToken = (token: string) => hmacSha256Hex(deps.secretKey, `account-token:${token}`);

  /** Creates a verification token for the user's current address inside `tx`; returns it for the mail. */
  const issueVerification = async (tx: Executor, user: UserRow): Promise<string> => {
    const now = new Date(clock.now());
    const token = randomToken(32);
    // Only the newest link works: an older mail (perhaps to an old address) is dead.
    await store.retireTokens(tx, user.id, "verify_email", now);
    await store.insertToken(tx, {
      tokenHash: hashToken(token),
      purpose: "verify_email",
      userId: user.id,
      emailKey: user.emailKey,
      createdAt: now,
      expiresAt: new Date(now.getTime() + VERIFY_TTL_MS),
    });
    return token;
  };

  /** Whether confirming this account's address inside its own session would make it an admin. */
  const adminPending = async (user: UserRow) =>
    user.role !== "admin" && isAdminEmail(await deps.adminEmails(), user.email);

  const sendVerification = async (user: UserRow, token: string, redirectTo?: string) => {
    // An admin address's mail says what confirming does, and for which account, before anyone clicks.
    const adminAccount = (await adminPending(user)) ? user.username : undefined;
    mailer.send({
      to: user.email,
      name: user.displayName ?? user.username,
      userId: user.id,
      template: { type: "verify_email", link: pageLink(deps.links, "verify_email", token, redirectTo), adminAccount },
    });
  };

  /**
   * Creates, inside the transaction of an email change, the link that undoes it; `before` is the
   * account as it was, whose address gets the link.
   */
  const issueUndo = async (tx: Executor, before: UserRow): Promise<string> => {
    const now = new Date(clock.now());
    const token = randomToken(32);
    await store.insertToken(tx, {
      tokenHash: hashToken(token),
      purpose: "undo_email_change",
      userId: before.id,
      emailKey: before.emailKey,
      previousEmail: before.email,
      createdAt: now,
      expiresAt: new Date(now.getTime() + UNDO_EMAIL_TTL_MS),
    });
    return token;
  };

  /** Tells the old address that it no longer belongs to the account, with the undo link. */
  const sendUndo = (before: UserRow, token: string) => {
    mailer.send({
      to: before.email,
      name: before.displayName ?? before.username,
      userId: before.id,
      template: {
        type: "email_changed",
        time: new Date(clock.now()).toISOString(),
        undoLink: pageLink(deps.links, "undo_email_change", token),
        expiresDays: UNDO_EMAIL_TTL_MS / 86_400_000,
      },
    });
  };

  return {
    issueVerification,
    sendVerification,
    issueUndo,
    sendUndo,

    /**
     * Undoes an email change with the link mailed to the old address: the old address comes back
     * (proven by the click), later changes' undo links die, and every session ends, since whoever
     * changed the address was signed in. Single use; 400 when invalid, used or expired; 409 when
     * another account took the old address meanwhile.
     */
    async undoEmailChange(token: string, meta: ClientMeta): Promise<void> {
      const now = new Date(clock.now());
      const hash = hashToken(token);
      const row = await store.findLiveToken(db, hash, "undo_email_change", now);
      if (!row?.previousEmail) throw invalidToken();
      const user = await store.findById(db, row.userId);
      if (!user || user.disabledAt !== null) throw invalidToken();
      if (await deps.emailTakenByOther(row.emailKey, user.id))
        throw errors.conflict("the old address now belongs to another account; contact your administrator");
      const previousEmail = row.previousEmail;
      const { announce } = await db.transaction(async (tx) => {
        if (!(await store.consumeToken(tx, hash, now))) throw invalidToken();
        // Changes made after this one (perhaps by the intruder, to reach their own address) cannot be undone back.
        await store.retireTokensSince(tx, user.id, "undo_email_change", row.createdAt, now);
        await store.updateUser(tx, user.id, {
          email: previousEmail,
          emailKey: row.emailKey,
          emailVerified: true,
          updatedAt: now,
        });
        const revoked = await deps.revokeAll(tx, user.id, { reason: "email_change_undone" });
        await audit.record(
          {
            eventType: "email.change_undone",
            result: "success",
            actor: { userId: user.id },
            ip: meta.ip,
            userAgent: meta.userAgent,
            target: user.id,
            metadata: revoked.counts,
          },
          tx,
        );
        return revoked;
      });
      await announce();
      await deps.changed(user.id);
    },

    /**
     * Signed-in: mails a fresh verification link to the user's address. Nothing when already verified,
     * unless the address is an admin address proven by the plain link: confirming again inside this
     * session is how its owner takes the role.
     */
    async requestVerification(userId: string, meta: ClientMeta): Promise<void> {
      const user = await store.findById(db, userId);
      if (!user) throw errors.unauthorized("account unavailable");
      if (user.emailVerified && !(await adminPending(user))) return;
      // Each request sends a mail: cap them, so a session cannot be used to flood an inbox.
      const hit = await counters.hit(`verify-mail:${userId}`, VERIFY_MAILS_PER_HOUR, 3600);
      if (!hit.allowed) throw errors.rateLimited(hit.resetSeconds);
      const token = await db.transaction(async (tx) => {
        const t = await issueVerification(tx, user);
        await audit.record(
          {
            eventType: "email.verify_request",
            result: "success",
            actor: { userId },
            ip: meta.ip,
            userAgent: meta.userAgent,
            target: userId,
          },
          tx,
        );
        return t;
      });
      await sendVerification(user, token);
    },

    /**
     * Marks the address the token was sent to as verified. Grants admin for an ADMIN_EMAILS address
     * only when `sessionUserId` (the signed-in session the confirmation came with) is the account
     * itself: the mailbox's owner clicking the plain link proves the address, not that they chose
     * the account's password (see admin-email.ts).
     */
    async verifyEmail(token: string, meta: ClientMeta, sessionUserId?: string | undefined): Promise<void> {
      const now = new Date(clock.now());
      const hash = hashToken(token);
      const row = await store.findLiveToken(db, hash, "verify_email", now);
      if (!row) throw invalidToken();
      const user = await store.findById(db, row.userId);
      // The token proves the address it was mailed to, not whatever the account holds now.
      if (!user || user.disabledAt !== null || user.emailKey !== row.emailKey) throw invalidToken();
      // Admin by email only once the address is proven, and only inside the account's own session:
      // anyone can type the boss's address at sign-up, and the boss will click the link.
      const inSession = sessionUserId === user.id;
      const adminAddress = await adminPending(user);
      const grantAdmin = inSession && adminAddress;
      await db.transaction(async (tx) => {
        if (!(await store.consumeToken(tx, hash, now))) throw invalidToken();
        await store.updateUser(tx, user.id, {
          emailVerified: true,
          firstVerifiedAt: user.firstVerifiedAt ?? now,
          ...(grantAdmin ? { role: "admin" as const } : {}),
          updatedAt: now,
        });
        await audit.record(
          {
            eventType: "email.verified",
            result: "success",
            actor: { userId: inSession ? user.id : null },
            ip: meta.ip,
            userAgent: meta.userAgent,
            target: user.id,
            metadata: {
              role_granted: grantAdmin ? "admin" : null,
              in_session: inSession,
              ...(adminAddress && !grantAdmin ? { admin_address: true } : {}),
            },
          },
          tx,
        );
      });
      await deps.changed(user.id);
    },

    /**
     * Mails a reset link when the address belongs to an account. The caller always answers 202 with
     * the same body, and the mail goes out in the background, so neither the answer nor its timing
     * says whether the address is known.
     */
    async forgotPassword(email: string, meta: ClientMeta, redirectTo?: string): Promise<void> {
      const emailKey = emailKeyOf(email);
      const ip = await counters.hit(`forgot-ip:${clientKey(meta.ip ?? "unknown")}`, RESET_REQUESTS_PER_IP_HOUR, 3600);
      if (!ip.allowed) throw errors.rateLimited(ip.resetSeconds);
      // Counted for every address, known or not (so the limit says nothing); past it, silence, not 429:
      // the owner is not flooded and the caller learns nothing.
      const perEmail = (
        await counters.hit(
          `forgot-email:${hmacSha256Hex(deps.secretKey, `forgot:${emailKey}`)}`,
          RESET_MAILS_PER_EMAIL_HOUR,
          3600,
        )
      ).allowed;
      const user = await store.findByEmail(db, emailKey);
      const actor = { ip: meta.ip, userAgent: meta.userAgent };
      // An account without a local password signs in through its outside provider: a reset link would
      // give whoever holds the address a second way in (and the provider's user keeps the first).
      if (!user || user.disabledAt !== null || user.passwordHash === null || !perEmail) {
        const reason = !user
          ? "unknown_email"
          : user.disabledAt !== null
            ? "disabled"
            : user.passwordHash === null
              ? "no_password"
              : "throttled";
        await audit.record({
          eventType: "password.reset_request",
          result: "failure",
          actor: { userId: null },
          ...actor,
          target: user?.id ?? null,
          metadata: { reason },
        });
        return;
      }
      const now = new Date(clock.now());
      const token = randomToken(32);
      await db.transaction(async (tx) => {
        await store.insertToken(tx, {
          tokenHash: hashToken(token),
          purpose: "reset_password",
          userId: user.id,
          emailKey: user.emailKey,
          createdAt: now,
          expiresAt: new Date(now.getTime() + RESET_TTL_MS),
        });
        await audit.record(
          {
            eventType: "password.reset_request",
            result: "success",
            actor: { userId: null },
            ...actor,
            target: user.id,
          },
          tx,
        );
      });
      mailer.send({
        to: user.email,
        name: user.displayName ?? user.username,
        userId: user.id,
        template: {
          type: "password_reset",
          link: pageLink(deps.links, "reset_password", token, redirectTo),
          expiresMinutes: RESET_TTL_MS / 60_000,
        },
      });
    },

    /**
     * Sets a new password with a reset token. The reset is the proof of owning the address, so it
     * marks the address verified and ends whatever may have been set up by someone who registered
     * it first: every session and refresh token, every API key, and two-factor enrolled before the
     * address was first proven. Two-factor the proven owner enrolled stays on: the next login still
     * needs a code. The mail lists what ended.
     */
    async resetPassword(token: string, newPassword: string, meta: ClientMeta): Promise<void> {
      const now = new Date(clock.now());
      const hash = hashToken(token);
      const row = await store.findLiveToken(db, hash, "reset_password", now);
      if (!row) throw invalidToken();
      const user = await store.findById(db, row.userId);
      // A link mailed to an address the account no longer has is dead.
      if (!user || user.disabledAt !== null || user.emailKey !== row.emailKey || user.passwordHash === null)
        throw invalidToken();
      const passwordHash = await deps.hasher.hash(deps.policyCheck(newPassword, user, "new_password"));
      const { announce, counts } = await db.transaction(async (tx) => {
        if (!(await store.consumeToken(tx, hash, now))) throw invalidToken();
        await store.retireTokens(tx, user.id, "reset_password", now);
        await store.updateUser(tx, user.id, {
          passwordHash,
          emailVerified: true,
          firstVerifiedAt: user.firstVerifiedAt ?? now,
          updatedAt: now,
        });
        // Sessions and keys end, two-factor older than the first proof goes, the login back-off is cleared.
        const revoked = await deps.revokeAll(tx, user.id, { reason: "password_reset", provenAt: user.firstVerifiedAt });
        await audit.record(
          {
            eventType: "password.reset",
            result: "success",
            actor: { userId: user.id },
            ip: meta.ip,
            userAgent: meta.userAgent,
            target: user.id,
            metadata: revoked.counts,
          },
          tx,
        );
        return revoked;
      });
      await announce();
      await deps.changed(user.id);
      const ended = {
        sessions: counts.sessions_revoked ?? 0,
        apiKeys: counts.api_keys_revoked ?? 0,
        mfa: (counts.mfa_revoked ?? 0) > 0,
      };
      mailer.send({
        to: user.email,
        name: user.displayName ?? user.username,
        userId: user.id,
        template: {
          type: "password_changed",
          time: now.toISOString(),
          resetLink: pageLink(deps.links, "reset_password"),
          ended,
        },
      });
    },
  };
}
