// The first admin without downtime: when no admin exists, `bulwark start` prints a one-time setup
// link (PocketBase's installer link). Whoever opens it chooses the first admin's username, email and
// password, so the admin role goes to the person who set the password, never to an account someone
// else registered. Threats: a guessed, replayed, expired or late link (256-bit token, kept only as
// its SHA-256 in this process's memory, single use, 15 minutes, dead once any admin exists; a
// restart makes a new one), and two uses racing (the claim is synchronous, and the admin check runs
// under an advisory lock, so at most one admin is made across instances).
import type { Clock } from "../../core/clock.js";
import { errors } from "../../core/errors.js";
import { randomToken, sha256, timingSafeEqualBytes } from "../../core/crypto/index.js";
import type { PasswordHasher } from "../../core/crypto/password.js";
import type { Database, Executor } from "../../store/db.js";
import type { AuditService } from "../audit/index.js";
import type { ClientMeta } from "../sessions/index.js";
import * as store from "./store.js";
import type { UserRow } from "./store.js";
import { accountKeys, newUserRow } from "./new-user.js";

/** How long a setup link works. */
export const SETUP_LINK_TTL_MS = 15 * 60_000;
/** Where the setup link lands (the pages module serves it, with or without FRONTEND_URL). */
export const SETUP_PATH = "/setup";

export type FirstAdminDeps = {
  db: Database;
  clock: Clock;
  audit: AuditService;
  hasher: PasswordHasher;
  publicUrl: string;
  policyCheck(password: string, user: { username: string; email: string }, field: string): string;
  issueVerification(tx: Executor, row: UserRow): Promise<string>;
  sendVerification(row: UserRow, token: string): Promise<void>;
};

type Refusal = "no_link" | "wrong_token" | "expired" | "admin_exists";

/** Builds the setup-link operations the accounts service exposes. */
export function createFirstAdmin(deps: FirstAdminDeps) {
  const { db, clock, audit } = deps;
  let live: { hash: Buffer; expiresAt: number } | undefined;

  const refuse = async (reason: Refusal, meta: ClientMeta) => {
    await audit.record({
      eventType: "admin.setup",
      result: "denied",
      actor: { userId: null },
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { reason },
    });
    if (reason === "admin_exists") {
      live = undefined;
      return errors.conflict("an admin exists: the setup link is closed (bulwark users promote NAME makes more)");
    }
    return errors.invalid("the setup link is invalid, used or expired: restart the server for a new one", [
      { path: "token", message: "is invalid, used or expired" },
    ]);
  };

  /** Why `token` cannot be used now, or undefined when it is the live link's. */
  const check = (token: string): Refusal | undefined => {
    if (!live) return "no_link";
    if (clock.now() > live.expiresAt) {
      live = undefined;
      return "expired";
    }
    // Compared as fixed-length digests in constant time: the comparison says nothing about the token.
    return timingSafeEqualBytes(sha256(token), live.hash) ? undefined : "wrong_token";
  };

  return {
    /**
     * When no admin exists, makes a new setup link (replacing any earlier one) and returns it with
     * its expiry; undefined when an admin exists. The caller prints it once; it is never stored.
     */
    async openSetup(): Promise<{ link: string; expiresAt: Date } | undefined> {
      live = undefined;
      if (await store.anyAdmin(db)) return undefined;
      const token = randomToken(32);
      const expiresAt = clock.now() + SETUP_LINK_TTL_MS;
      live = { hash: sha256(token), expiresAt };
      await audit.record({
        eventType: "admin.setup_link",
        result: "success",
        actor: { userId: null },
        metadata: { expires_at: new Date(expiresAt).toISOString() },
      });
      // In the fragment: browsers never send it, so the token stays out of access logs and proxies.
      return { link: `${deps.publicUrl}${SETUP_PATH}#token=${token}`, expiresAt: new Date(expiresAt) };
    },

    /** Whether a setup link is live (for the first-start notice and tests). */
    setupOpen: () => live !== undefined && clock.now() <= live.expiresAt,

    /** Creates the first admin with the setup link's token; refuses (and audits) anything else. */
    async completeSetup(
      input: { token: string; username: string; email: string; password: string },
      meta: ClientMeta,
    ): Promise<UserRow> {
      const early = check(input.token);
      if (early) throw await refuse(early, meta);
      const email = input.email.trim();
      const keys = accountKeys(input.username, email);
      const normalized = deps.policyCheck(input.password, { username: input.username, email }, "password");
      const passwordHash = await deps.hasher.hash(normalized);
      const now = new Date(clock.now());
      // The address is typed, not proven: the admin confirms it by the mailed link like anyone.
      const row = newUserRow({
        username: input.username,
        email,
        passwordHash,
        now,
        role: "admin",
        emailVerified: false,
      });
      let refusal: Refusal | undefined;
      const token = await db.transaction(async (tx) => {
        if (await store.anyAdmin(tx, true)) {
          refusal = "admin_exists";
          return undefined;
        }
        if (await store.taken(tx, keys)) throw errors.conflict("username or email is already taken");
        // The claim: synchronous between the check and the clearing, so of two requests racing
        // with the token in this process exactly one passes; the lock above covers other instances.
        refusal = check(input.token);
        if (refusal) return undefined;
        live = undefined;
        await store.insertUser(tx, row);
        await audit.record(
          {
            eventType: "admin.setup",
            result: "success",
            actor: { userId: row.id },
            ip: meta.ip,
            userAgent: meta.userAgent,
            target: row.id,
            metadata: { role: "admin" },
          },
          tx,
        );
        return deps.issueVerification(tx, row);
      });
      if (refusal || token === undefined) throw await refuse(refusal ?? "no_link", meta);
      await deps.sendVerification(row, token);
      return row;
    },
  };
}
