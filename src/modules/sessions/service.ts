// Sessions: creation at login, refresh-token rotation with reuse detection, revocation that every
// instance learns at once (pub/sub), and the resolution of access tokens into principals without a
// database read per request.
import type { Clock } from "../../core/clock.js";
import { AppError, errors } from "../../core/errors.js";
import { hmacSha256Hex, randomToken } from "../../core/crypto/index.js";
import { newId } from "../../core/ids.js";
import type { Principal } from "../../http/types.js";
import type { Database, Executor } from "../../store/db.js";
import { broadcast, type PubSub } from "../../store/pubsub.js";
import type { AuditService } from "../audit/index.js";
import * as store from "./store.js";

/** What the sessions module needs to know of a user; the accounts module provides it, cached. */
export type SessionUser = { id: string; role: "user" | "admin"; disabled: boolean };
export type UserLookup = (userId: string) => Promise<SessionUser | null>;

/** The part of the token service sessions use. */
export type AccessTokens = {
  issue(claims: { sub: string; sid: string }): Promise<{ token: string; expiresIn: number }>;
  verify(token: string): Promise<{ sub: string; sid: string; exp: number }>;
};

export type TokenPair = {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  session_id: string;
};
export type { ClientMeta } from "../../http/client-meta.js";
import type { ClientMeta } from "../../http/client-meta.js";
import type { CookieJar } from "./cookies.js";

/** Who ends a session, for the audit row: the user themself, an admin, or an operator (no user). */
export type RevokeActor = {
  userId: string | null;
  keyId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
};

export type SessionDeps = {
  db: Database;
  clock: Clock;
  audit: AuditService;
  pubsub: PubSub;
  tokens: AccessTokens;
  users: UserLookup;
  secretKey: string;
  refreshTokenTtl: number;
  accessTokenTtl: number;
  /** The browser-mode cookies, shared with the routes and the resolver. */
  jar: CookieJar;
  onError?: (error: Error) => void;
};

/** A rotated refresh token presented again within this time is a race between two tabs, not theft. */
export const REUSE_GRACE_MS = 10_000;
/** How often revocations are re-read from the database, in case a pub/sub message was lost. */
const RELOAD_INTERVAL_MS = 30_000;
/** last_used_at is written at most this often per session. */
const TOUCH_INTERVAL_MS = 60_000;
const REVOKED_CHANNEL = "sessions.revoked";

export type SessionService = ReturnType<typeof createSessionService>;

/** Builds the session service; call `init()` before serving. */
export function createSessionService(deps: SessionDeps) {
  const { db, clock, audit, pubsub, tokens } = deps;
  // Revoked session ids whose access tokens may still be unexpired, with when they can be forgotten.
  const revoked = new Map<string, number>();
  const touched = new Map<string, number>();
  const timers: NodeJS.Timeout[] = [];

  const hashRefresh = (token: string) => hmacSha256Hex(deps.secretKey, `refresh:${token}`);

  // Told of every session revoked on any instance (the realtime module closes their sockets).
  const revokedListeners: ((ids: string[]) => void)[] = [];
  const remember = (ids: string[]) => {
    const forgetAt = clock.now() + deps.accessTokenTtl * 1000 + 60_000;
    const fresh = ids.filter((id) => !revoked.has(id));
    for (const id of ids) revoked.set(id, forgetAt);
    if (fresh.length === 0) return;
    for (const listener of revokedListeners) {
      try {
        listener(fresh);
      } catch (error) {
        deps.onError?.(error as Error);
      }
    }
  };

  /** Tells every instance (this one included) that sessions are revoked, and waits for the echo. */
  const revocations = broadcast(pubsub, REVOKED_CHANNEL, remember, deps.onError);
  const announce = revocations.announce;

  const prune = () => {
    const now = clock.now();
    for (const [id, forgetAt] of revoked) if (forgetAt < now) revoked.delete(id);
    for (const [id, at] of touched) if (now - at > TOUCH_INTERVAL_MS) touched.delete(id);
  };

  const pair = async (userId: string, sessionId: string, refreshToken: string): Promise<TokenPair> => {
    const access = await tokens.issue({ sub: userId, sid: sessionId });
    return {
      access_token: access.token,
      token_type: "Bearer",
      expires_in: access.expiresIn,
      refresh_token: refreshToken,
      session_id: sessionId,
    };
  };

  return {
    /** Subscribes to revocations from other instances, then loads the recent ones. */
    async init(): Promise<void> {
      await revocations.subscribe();
      // Subscribed first, so nothing revoked between the load and the subscription is missed.
      const reload = async () =>
        remember(await store.revokedSince(db, new Date(clock.now() - deps.accessTokenTtl * 1000 - 60_000)));
      await reload();
      // Revocations announced while our subscription was down were missed: read them at once.
      pubsub.onResubscribed(() => {
        reload().catch((error: unknown) => deps.onError?.(error as Error));
      });
      timers.push(
        setInterval(prune, 60_000),
        setInterval(() => {
          reload().catch((error: unknown) => deps.onError?.(error as Error));
        }, RELOAD_INTERVAL_MS),
      );
      for (const timer of timers) timer.unref();
    },

    /** Stops the background timers. */
    close(): void {
      for (const timer of timers) clearInterval(timer);
    },

    /** Creates a session inside the caller's transaction; the caller issues tokens after commit. */
    async create(tx: Executor, userId: string, meta: ClientMeta): Promise<{ sessionId: string; refreshToken: string }> {
      const now = new Date(clock.now());
      const sessionId = newId(now.getTime());
      const refreshToken = randomToken(32);
      await store.insertSession(
        tx,
        {
          id: sessionId,
          userId,
          createdAt: now,
          lastUsedAt: now,
          expiresAt: new Date(now.getTime() + deps.refreshTokenTtl * 1000),
          ip: meta.ip,
          userAgent: meta.userAgent?.slice(0, 512) ?? null,
        },
        hashRefresh(refreshToken),
      );
      return { sessionId, refreshToken };
    },

    /** The token pair for a session just created. */
    pair,

    /** Exchanges a refresh token for a new pair; the old token is dead from then on. */
    async refresh(refreshToken: string, meta: ClientMeta): Promise<TokenPair & { userId: string }> {
      const now = clock.now();
      const outcome = await db.transaction(async (tx) => {
        const row = await store.lockRefreshToken(tx, hashRefresh(refreshToken));
        if (!row) return { kind: "unknown" as const };
        const { token, session } = row;
        if (session.revokedAt || session.expiresAt.getTime() <= now || token.expiresAt.getTime() <= now)
          return { kind: "dead" as const };
        const actor = { actor: { userId: session.userId }, ip: meta.ip, userAgent: meta.userAgent, target: session.id };
        if (token.rotatedAt) {
          // Two tabs refreshing at once both hold the token for a moment: refuse the loser quietly.
          if (now - token.rotatedAt.getTime() <= REUSE_GRACE_MS) return { kind: "race" as const };
          // Later than that, a copy of the token is in someone else's hands: end the session.
          await store.revokeSession(tx, session.id, undefined, new Date(now), "token_reuse");
          await audit.record({ eventType: "auth.token_reuse", result: "denied", ...actor }, tx);
          return { kind: "reuse" as const, sessionId: session.id };
        }
        const next = randomToken(32);
        await store.rotateRefreshToken(tx, token.tokenHash, {
          tokenHash: hashRefresh(next),
          sessionId: session.id,
          createdAt: new Date(now),
          expiresAt: session.expiresAt,
        });
        await audit.record({ eventType: "auth.refresh", result: "success", ...actor }, tx);
        return { kind: "ok" as const, userId: session.userId, sessionId: session.id, next };
      });
      if (outcome.kind === "reuse") {
        await announce([outcome.sessionId]);
        throw new AppError(
          "token_reused",
          "this refresh token was already used; the session has been ended, sign in again",
        );
      }
      if (outcome.kind !== "ok") throw errors.unauthorized("invalid or expired refresh token");
      // Checked after the transaction: the lookup may query, and inside the transaction it would wait
      // on it (PGlite has one connection). Disabling also revokes sessions, so this is a second guard.
      const user = await deps.users(outcome.userId);
      if (!user || user.disabled) throw errors.unauthorized("invalid or expired refresh token");
      return { ...(await pair(outcome.userId, outcome.sessionId, outcome.next)), userId: outcome.userId };
    },

    /** The browser-mode cookies. */
    jar: deps.jar,

    /** Logout: ends the caller's own session, audited in the same transaction. */
    async logout(userId: string, sessionId: string | undefined, actor: RevokeActor): Promise<void> {
      const ids = await db.transaction(async (tx) => {
        const ended = sessionId
          ? await store.revokeSession(tx, sessionId, userId, new Date(clock.now()), "logout")
          : [];
        await audit.record(
          {
            eventType: "auth.logout",
            result: "success",
            actor,
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
            target: sessionId ?? null,
          },
          tx,
        );
        return ended;
      });
      await announce(ids);
    },

    /** Ends one session of `userId`; false when they have no such live session (someone else's is "not found"). */
    async revoke(sessionId: string, userId: string, actor: RevokeActor): Promise<boolean> {
      const ids = await db.transaction(async (tx) => {
        const ended = await store.revokeSession(tx, sessionId, userId, new Date(clock.now()), "user");
        if (ended.length > 0)
          await audit.record(
            {
              eventType: "session.revoke",
              result: "success",
              actor,
              ip: actor.ip ?? null,
              userAgent: actor.userAgent ?? null,
              target: sessionId,
            },
            tx,
          );
        return ended;
      });
      await announce(ids);
      return ids.length > 0;
    },

    /**
     * Ends every session of a user (except one, the caller's own, when given): by the user
     * (`session.revoke_others`), an admin (`admin.sessions_revoked`) or an operator
     * (`session.revoke_operator`). Audited in the transaction; returns how many.
     */
    async revokeUser(
      userId: string,
      by: "user" | "admin" | "operator",
      actor: RevokeActor,
      except?: string,
    ): Promise<number> {
      const eventType =
        by === "user" ? "session.revoke_others" : by === "admin" ? "admin.sessions_revoked" : "session.revoke_operator";
      const ids = await db.transaction(async (tx) => {
        const ended = await store.revokeUserSessions(tx, userId, except, new Date(clock.now()), by);
        const metadata = by === "operator" ? { count: ended.length, all: false } : { count: ended.length };
        await audit.record(
          {
            eventType,
            result: "success",
            actor,
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
            target: by === "user" ? null : userId,
            metadata,
          },
          tx,
        );
        return ended;
      });
      await announce(ids);
      return ids.length;
    },

    /** The same inside the caller's transaction: returns the ids to `announce` once it has committed. */
    /** Records that the session's user proved themselves again just now (POST /api/auth/step-up). */
    async markSteppedUp(sessionId: string, at: Date): Promise<void> {
      await store.markSteppedUp(db, sessionId, at);
    },

    /** When a live session reaches its absolute expiry (ms since the epoch); undefined when it has ended or is unknown. */
    async liveUntil(sessionId: string): Promise<number | undefined> {
      const row = await store.findSession(db, sessionId);
      if (!row || row.revokedAt !== null || row.expiresAt.getTime() <= clock.now()) return undefined;
      return row.expiresAt.getTime();
    },

    /** Whether the live session stepped up within the last `seconds`: read from the database, not a cache. */
    async steppedUpWithin(sessionId: string | undefined, seconds: number): Promise<boolean> {
      if (!sessionId) return false;
      const row = await store.findSession(db, sessionId);
      const now = clock.now();
      return (
        row !== undefined &&
        row.revokedAt === null &&
        row.steppedUpAt !== null &&
        now - row.steppedUpAt.getTime() < seconds * 1000 &&
        row.steppedUpAt.getTime() <= now
      );
    },

    async revokeUserIn(tx: Executor, userId: string, options: { except?: string; reason: string }): Promise<string[]> {
      return store.revokeUserSessions(tx, userId, options.except, new Date(clock.now()), options.reason);
    },

    /**
     * Deletes sessions that ended more than `retentionMs` ago, with their refresh tokens. Rotated
     * tokens of live sessions stay: they are what detects the reuse of a stolen token.
     */
    async prune(retentionMs: number): Promise<number> {
      return store.pruneSessions(db, new Date(clock.now() - retentionMs));
    },

    /** Revokes every session of every user (incident response), audited; returns how many. */
    async revokeAll(): Promise<number> {
      const ids = await db.transaction(async (tx) => {
        const ended = await store.revokeAllSessions(tx, new Date(clock.now()), "operator");
        await audit.record(
          {
            eventType: "session.revoke_operator",
            result: "success",
            actor: { userId: null },
            target: null,
            metadata: { count: ended.length, all: true },
          },
          tx,
        );
        return ended;
      });
      await announce(ids);
      return ids.length;
    },

    /** Tells every instance about sessions revoked in a transaction that has now committed. */
    announce,

    /** Calls `listener` with the ids of sessions revoked on any instance, once each, as this instance learns of them. */
    onRevoked(listener: (ids: string[]) => void): void {
      revokedListeners.push(listener);
    },

    /** Whether this instance knows the session as revoked. */
    isRevoked: (sessionId: string): boolean => revoked.has(sessionId),

    /** A user's live sessions, for GET /api/sessions. */
    async list(userId: string, currentSessionId: string | undefined) {
      const rows = await store.activeSessions(db, userId, new Date(clock.now()));
      return rows.map((s) => ({
        id: s.id,
        created_at: s.createdAt.toISOString(),
        last_used_at: s.lastUsedAt.toISOString(),
        ip: s.ip,
        user_agent: s.userAgent,
        current: s.id === currentSessionId,
      }));
    },

    /** Turns an access token into a principal: signature and claims, then revocation and the user's state, all from memory. */
    async resolve(accessToken: string): Promise<Principal> {
      const claims = await tokens.verify(accessToken);
      if (revoked.has(claims.sid)) throw errors.unauthorized("session ended");
      const user = await deps.users(claims.sub);
      if (!user || user.disabled) throw errors.unauthorized("account unavailable");
      const now = clock.now();
      const last = touched.get(claims.sid) ?? 0;
      if (now - last > TOUCH_INTERVAL_MS) {
        touched.set(claims.sid, now);
        void store.touchSession(db, claims.sid, new Date(now)).catch(() => touched.delete(claims.sid));
      }
      return { type: "user", userId: user.id, role: user.role, sessionId: claims.sid };
    },
  };
}
