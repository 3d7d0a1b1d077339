// Token introspection (RFC 7662) for other services: is this access token or API key good right
// now, and whose is it? The answer comes from the same verification and the same caches as the
// authentication hook — the signature and claims, the revoked-session set every instance keeps up
// to date, the user's cached state, the key cache dropped on revocation — so a logout, a
// revocation or a disabled account is visible here on the next call, on every instance.
import { AppError } from "../../core/errors.js";
import type { Principal } from "../../http/types.js";
import { KEY_PREFIX, type ApiKeyService } from "../api-keys/index.js";
import type { SessionService } from "../sessions/index.js";
import type { TokenService } from "../tokens/index.js";

/** RFC 7662's answer; only `active` when the token is not good (nothing else is revealed). */
export type Introspection =
  | { active: false }
  | {
      active: true;
      token_type: "access_token" | "api_key";
      sub: string;
      role: "user" | "admin";
      scope?: string;
      exp?: number;
      iat?: number;
      session_id?: string;
      key_id?: string;
      client_id?: string;
    };

/** A JWT has exactly two dots; API keys have none. */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export type IntrospectionService = ReturnType<typeof createIntrospectionService>;

/** Builds the service over the token, session and API key services. */
export function createIntrospectionService(deps: {
  tokens: TokenService;
  sessions: SessionService;
  apiKeys: ApiKeyService;
}) {
  /** Runs a resolution; a refusal (bad, expired, revoked, disabled) is an inactive token, anything else is a real error. */
  const attempt = async <T>(resolve: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await resolve();
    } catch (error) {
      if (error instanceof AppError && error.status === 401) return undefined;
      throw error;
    }
  };

  return {
    /** Introspects an access token or an API key (its form says which). */
    async introspect(token: string): Promise<Introspection> {
      if (token.startsWith(KEY_PREFIX)) {
        const principal: Principal | undefined = await attempt(() => deps.apiKeys.resolve(token));
        if (!principal?.keyId) return { active: false };
        const expiresAt = deps.apiKeys.expiryOf(principal.keyId);
        return {
          active: true,
          token_type: "api_key",
          sub: principal.userId,
          role: principal.role,
          scope: (principal.scopes ?? []).join(" "),
          key_id: principal.keyId,
          client_id: principal.keyId,
          ...(expiresAt !== null ? { exp: Math.floor(expiresAt / 1000) } : {}),
        };
      }
      if (!JWT.test(token)) return { active: false };
      // The session check (revoked set, user state) first; the claims then come from the verify cache.
      const principal = await attempt(() => deps.sessions.resolve(token));
      if (!principal) return { active: false };
      const claims = await attempt(() => deps.tokens.verify(token));
      if (!claims) return { active: false };
      return {
        active: true,
        token_type: "access_token",
        sub: principal.userId,
        role: principal.role,
        exp: claims.exp,
        iat: claims.iat,
        session_id: claims.sid,
      };
    },
  };
}
