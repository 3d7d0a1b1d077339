// One-time WebSocket tickets. A browser cannot set headers on a WebSocket, and an access token in
// the URL ends up in proxy logs and history; so an authenticated POST buys a ticket that is good for
// one upgrade within 30 seconds, from the same client IP, for the same session. Only its SHA-256 is
// stored (Redis when configured, so any instance can take it once; memory otherwise).
import type { Redis } from "ioredis";
import type { Clock } from "../../core/clock.js";
import { randomToken, sha256Hex } from "../../core/crypto/index.js";

export const TICKET_TTL_SECONDS = 30;
/** 32 random bytes, base64url: 256 bits. */
export const TICKET_PATTERN = "^[A-Za-z0-9_-]{43}$";

/** Who a ticket admits; `sessionEndsAt`: the session's absolute expiry (ms), when its socket must close. */
export type TicketClaims = { userId: string; sessionId: string; sessionEndsAt: number; ip: string; expiresAt: number };

export type Tickets = {
  issue(claims: Omit<TicketClaims, "expiresAt">): Promise<{ ticket: string; expires_in: number }>;
  /** The claims of a ticket, once: a second take (on any instance) finds nothing. Expired tickets find nothing. */
  take(ticket: string): Promise<TicketClaims | undefined>;
};

/** Tickets in Redis (shared by every instance) or in this process. */
export function createTickets(options: { clock: Clock; redis: Redis | undefined; prefix?: string }): Tickets {
  const { clock, redis } = options;
  const prefix = options.prefix ?? "bw:rt-ticket:";
  const local = new Map<string, string>();
  const key = (ticket: string) => `${prefix}${sha256Hex(`realtime-ticket:${ticket}`)}`;

  const sweep = () => {
    const now = clock.now();
    for (const [k, value] of local) if ((JSON.parse(value) as TicketClaims).expiresAt <= now) local.delete(k);
  };

  return {
    async issue(claims) {
      const ticket = randomToken(32);
      const value = JSON.stringify({
        ...claims,
        expiresAt: clock.now() + TICKET_TTL_SECONDS * 1000,
      } satisfies TicketClaims);
      if (redis) {
        await redis.set(key(ticket), value, "EX", TICKET_TTL_SECONDS);
      } else {
        if (local.size > 10_000) sweep();
        local.set(key(ticket), value);
      }
      return { ticket, expires_in: TICKET_TTL_SECONDS };
    },
    async take(ticket) {
      let value: string | null | undefined;
      if (redis) {
        // GET and DEL in one transaction: of two instances taking the same ticket, one gets it.
        const result = await redis.multi().get(key(ticket)).del(key(ticket)).exec();
        value = (result?.[0]?.[1] as string | null | undefined) ?? null;
      } else {
        value = local.get(key(ticket));
        local.delete(key(ticket));
      }
      if (!value) return undefined;
      const claims = JSON.parse(value) as TicketClaims;
      return claims.expiresAt > clock.now() ? claims : undefined;
    },
  };
}
