// Invitations: an admin invites an address; the mailed link (the built-in /accept-invite page or
// the front end's) lets its holder create an account with that address, already verified, since
// receiving the mail proves it. Threats: a leaked database must not yield usable invitations (only
// an HMAC of the 256-bit token is stored), a link must not work twice or forever (single use in one
// conditional UPDATE, expiry), and REGISTRATION=closed must close this door too.
import type { Config } from "../../config/types.js";
import type { Clock } from "../../core/clock.js";
import { errors } from "../../core/errors.js";
import { hmacSha256Hex, randomToken } from "../../core/crypto/index.js";
import type { PasswordHasher } from "../../core/crypto/password.js";
import { newId } from "../../core/ids.js";
import type { Database } from "../../store/db.js";
import type { AuditService } from "../audit/index.js";
import { pageLink, type Mailer } from "../mail/index.js";
import type { ClientMeta } from "../sessions/index.js";
import { adminEmailsOf, emailKeyOf, isAdminEmail } from "./admin-email.js";
import * as store from "./store.js";
import type { UserRow } from "./store.js";
import { newUserRow } from "./new-user.js";

export const INVITATION_DEFAULT_DAYS = 7;
const DAY_MS = 86_400_000;

export type InvitationView = { id: string; email: string; created_at: string; expires_at: string };

export type InvitationDeps = {
  db: Database;
  clock: Clock;
  audit: AuditService;
  mailer: Mailer;
  hasher: PasswordHasher;
  config: Pick<
    Config,
    "secretKey" | "registration" | "adminEmails" | "bootstrapAdminEmail" | "publicUrl" | "frontendUrl" | "redirectUrls"
  >;
  policyCheck(password: string, user: { username: string; email: string }, field: string): string;
  userView(row: UserRow): import("./service.js").UserView;
};

type Actor = { userId: string | null; ip?: string | null; userAgent?: string | null };

const view = (row: store.InvitationRow): InvitationView => ({
  id: row.id,
  email: row.email,
  created_at: row.createdAt.toISOString(),
  expires_at: row.expiresAt.toISOString(),
});
const invalidToken = () =>
  errors.invalid("token is invalid, used or expired", [{ path: "token", message: "is invalid, used or expired" }]);

/** Builds the invitation operations the accounts service exposes. */
export function createInvitations(deps: InvitationDeps) {
  const { db, clock, audit, mailer, config } = deps;
  const hashToken = (token: string) => hmacSha256Hex(config.secretKey, `invitation:${token}`);
  const refuseWhenClosed = () => {
    if (config.registration === "closed")
      throw errors.forbidden("registration is closed (REGISTRATION=closed): operators add accounts");
  };

  return {
    /** Admin: invites an address; the link goes by mail only (never in the answer). */
    async create(
      actor: Actor,
      input: { email: string; expires_in_days?: number | undefined },
    ): Promise<InvitationView> {
      refuseWhenClosed();
      const email = input.email.trim();
      const emailKey = emailKeyOf(email);
      if (await store.taken(db, { emailKey })) throw errors.conflict("an account with this email already exists");
      const now = new Date(clock.now());
      const days = input.expires_in_days ?? INVITATION_DEFAULT_DAYS;
      const token = randomToken(32);
      const row = {
        id: newId(now.getTime()),
        tokenHash: hashToken(token),
        email,
        emailKey,
        invitedBy: actor.userId,
        createdAt: now,
        expiresAt: new Date(now.getTime() + days * DAY_MS),
      };
      await db.transaction(async (tx) => {
        await store.insertInvitation(tx, row);
        await audit.record(
          {
            eventType: "invitation.create",
            result: "success",
            actor: { userId: actor.userId },
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
            target: row.id,
            metadata: { email, expires_in_days: days },
          },
          tx,
        );
      });
      mailer.send({
        to: email,
        userId: null,
        template: { type: "invitation", link: pageLink(config, "accept_invite", token), expiresDays: days },
      });
      return view({ ...row, invitedBy: actor.userId, usedAt: null, userId: null });
    },

    /** Admin: invitations not used and not expired. */
    async list(): Promise<InvitationView[]> {
      return (await store.pendingInvitations(db, new Date(clock.now()))).map(view);
    },

    /** Admin: ends a pending invitation; its link stops working. */
    async revoke(actor: Actor, id: string): Promise<void> {
      await db.transaction(async (tx) => {
        if (!(await store.revokeInvitation(tx, id, new Date(clock.now()))))
          throw errors.notFound("no such pending invitation");
        await audit.record(
          {
            eventType: "invitation.revoke",
            result: "success",
            actor: { userId: actor.userId },
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
            target: id,
          },
          tx,
        );
      });
    },

    /** The link's holder creates the account for the invited address, verified; the invitation is used up. */
    async accept(
      input: { token: string; username: string; password: string; display_name?: string | undefined },
      meta: ClientMeta,
    ): Promise<UserRow> {
      refuseWhenClosed();
      const now = new Date(clock.now());
      const tokenHash = hashToken(input.token);
      const usernameKey = input.username.toLowerCase();
      return db.transaction(async (tx) => {
        // Used up here; an error below (taken username, weak password) rolls this back, so the link still works.
        const invitation = await store.takeInvitation(tx, tokenHash, now);
        if (!invitation) throw invalidToken();
        const normalized = deps.policyCheck(
          input.password,
          { username: input.username, email: invitation.email },
          "password",
        );
        if (await store.taken(tx, { usernameKey, emailKey: invitation.emailKey }))
          throw errors.conflict("username or email is already taken");
        const row = newUserRow({
          username: input.username,
          email: invitation.email,
          passwordHash: await deps.hasher.hash(normalized),
          now,
          role: isAdminEmail(await adminEmailsOf(config, tx), invitation.emailKey) ? "admin" : "user",
          // Opening the mailed link proved the address.
          emailVerified: true,
          displayName: input.display_name,
        });
        await store.insertUser(tx, row);
        await store.linkInvitation(tx, invitation.id, row.id);
        await audit.record(
          {
            eventType: "user.register",
            result: "success",
            actor: { userId: row.id },
            ip: meta.ip,
            userAgent: meta.userAgent,
            target: row.id,
            metadata: { via: "invitation" },
          },
          tx,
        );
        await audit.record(
          {
            eventType: "invitation.accept",
            result: "success",
            actor: { userId: row.id },
            ip: meta.ip,
            userAgent: meta.userAgent,
            target: invitation.id,
            metadata: { role: row.role },
          },
          tx,
        );
        return row;
      });
    },

    /** Deletes invitations used or expired more than a day ago. */
    prune(): Promise<number> {
      return store.pruneInvitations(db, new Date(clock.now() - DAY_MS));
    },
  };
}
