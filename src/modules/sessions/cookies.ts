// Browser mode: tokens in HttpOnly cookies (Secure and `__Host-` prefixed over https, SameSite=Lax),
// and the double-submit CSRF check that cookie-authenticated unsafe requests must pass.
import { parse, serialize, type SerializeOptions } from "cookie";
import type { FastifyReply, FastifyRequest } from "fastify";
import { errors } from "../../core/errors.js";
import { randomToken, timingSafeEqualString } from "../../core/crypto/index.js";

export type CookieNames = { access: string; refresh: string; csrf: string; device: string };

export type CookieJar = ReturnType<typeof createCookieJar>;

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** The device cookie outlives sessions: it is what exempts a returning device from lockout. */
const DEVICE_MAX_AGE = 365 * 24 * 3600;

/** Cookie names and attributes for a deployment; over https every cookie is `__Host-` prefixed. */
export function createCookieJar(options: {
  publicUrl: string;
  allowedOrigins: readonly string[];
  accessTokenTtl: number;
  refreshTokenTtl: number;
}) {
  const secure = options.publicUrl.startsWith("https://");
  // `__Host-` pins a cookie to this host, path / and Secure: a sibling subdomain cannot plant one.
  const prefix = secure ? "__Host-" : "";
  const names: CookieNames = {
    access: `${prefix}bulwark_access`,
    refresh: `${prefix}bulwark_refresh`,
    csrf: `${prefix}bulwark_csrf`,
    device: `${prefix}bulwark_device`,
  };
  const base: SerializeOptions = { path: "/", secure, sameSite: "lax" };
  const origins = new Set([...options.allowedOrigins, new URL(options.publicUrl).origin]);

  const read = (req: FastifyRequest): Record<string, string | undefined> => {
    const header = req.headers.cookie;
    return header ? parse(header) : {};
  };

  return {
    names,
    read,

    /** Sets the session cookies after login or refresh, with a fresh CSRF token. */
    setSession(reply: FastifyReply, tokens: { access: string; refresh: string }): void {
      reply.header("set-cookie", [
        serialize(names.access, tokens.access, { ...base, httpOnly: true, maxAge: options.accessTokenTtl }),
        serialize(names.refresh, tokens.refresh, { ...base, httpOnly: true, maxAge: options.refreshTokenTtl }),
        // Readable by the page's script, which echoes it in X-CSRF-Token; another site cannot read it.
        serialize(names.csrf, randomToken(24), { ...base, httpOnly: false, maxAge: options.refreshTokenTtl }),
      ]);
    },

    /** The device cookie set after a successful login. */
    setDevice(reply: FastifyReply, deviceToken: string): void {
      // Fastify appends to an existing set-cookie header: passing the session cookies again would send them twice.
      reply.header(
        "set-cookie",
        serialize(names.device, deviceToken, { ...base, httpOnly: true, maxAge: DEVICE_MAX_AGE }),
      );
    },

    /** Clears the session cookies (logout); the device cookie stays. */
    clearSession(reply: FastifyReply): void {
      reply.header(
        "set-cookie",
        [names.access, names.refresh, names.csrf].map((name) => serialize(name, "", { ...base, maxAge: 0 })),
      );
    },

    /**
     * Refuses a cookie-authenticated unsafe request that lacks the matching X-CSRF-Token, or that
     * comes from an origin not allowed. Bearer requests never reach this: a page cannot make the
     * browser attach a bearer token on its own.
     */
    checkCsrf(req: FastifyRequest, cookies: Record<string, string | undefined>): void {
      if (!UNSAFE.has(req.method)) return;
      const origin = req.headers.origin;
      if (origin !== undefined && !origins.has(origin)) throw errors.forbidden("request origin not allowed");
      const expected = cookies[names.csrf];
      const given = req.headers["x-csrf-token"];
      if (!expected || typeof given !== "string" || !timingSafeEqualString(given, expected)) {
        throw errors.forbidden("missing or wrong X-CSRF-Token header (it must equal the bulwark_csrf cookie)");
      }
    },
  };
}
