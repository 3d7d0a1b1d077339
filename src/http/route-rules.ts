// Every route declares its protections, and a route that does not is refused when it is
// registered, not answered with a 500 (or left open) at request time.
import type { RouteOptions } from "fastify";
import { RATE_LIMIT_CLASSES, type AuthRequirement } from "./types.js";

const AUTH_WORDS = new Set(["public", "user", "admin", "optional"]);
const OPERATOR_TOKENS = new Set(["metrics"]);
const CLASSES = new Set<unknown>([...RATE_LIMIT_CLASSES, false]);
const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const SCOPE = /^[a-z][a-z0-9_:.-]{0,63}$/;

/** What a route's config must hold: `auth` and `rateLimit` spelled out, known values, a declared audit event. */
export function routeProblem(
  route: Pick<RouteOptions, "method" | "url" | "schema" | "config">,
  knownAuditEvent: (type: string) => boolean,
): string | undefined {
  const config = (route.config ?? {}) as {
    auth?: AuthRequirement;
    rateLimit?: unknown;
    audit?: unknown;
    rawBody?: unknown;
    multipart?: unknown;
    proxied?: unknown;
  };
  if (config.auth === undefined) return 'config.auth is required ("public" where anyone may call)';
  if (!validAuth(config.auth))
    return `config.auth ${JSON.stringify(config.auth)} is not one of public, user, admin, optional, { apiKey: scope }, { token: "metrics" }`;
  if (config.rateLimit === undefined) return "config.rateLimit is required (a class, or false spelled out)";
  if (!CLASSES.has(config.rateLimit))
    return `config.rateLimit ${JSON.stringify(config.rateLimit)} is not one of ${RATE_LIMIT_CLASSES.join(", ")}, false`;
  if (config.audit !== undefined && (typeof config.audit !== "string" || !knownAuditEvent(config.audit))) {
    return `config.audit ${JSON.stringify(config.audit)} is not a declared audit event type (declare it in the module's auditEvents)`;
  }
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  // A write without a body schema accepts any junk; body-less writes declare the empty object.
  // The two exceptions read their bodies themselves: `rawBody` (signed bytes) and `multipart`
  // (streamed parts, each checked by the handler). A multipart route may not also declare a
  // body schema: the parts are not validated by it, so it would only pretend to.
  // A proxied route (gateway mode) streams the body to the upstream, which validates it; the
  // gateway holds it to the rule's size and content types. A schema here would pretend likewise.
  if (config.multipart === true && route.schema?.body !== undefined)
    return "a multipart route reads its parts itself: drop the body schema";
  if (config.proxied === true && route.schema?.body !== undefined)
    return "a proxied route streams its body to the upstream: drop the body schema";
  const readsItself = config.rawBody === true || config.multipart === true || config.proxied === true;
  if (methods.some((m) => STATE_CHANGING.has(m)) && route.schema?.body === undefined && !readsItself) {
    return "a state-changing route needs a body schema (Type.Object({}, { additionalProperties: false }) when it takes none)";
  }
  return undefined;
}

function validAuth(auth: unknown): boolean {
  if (typeof auth === "string") return AUTH_WORDS.has(auth);
  if (typeof auth !== "object" || auth === null) return false;
  const a = auth as Record<string, unknown>;
  if ("token" in a) return Object.keys(a).length === 1 && OPERATOR_TOKENS.has(a.token as string);
  const keys = Object.keys(a);
  return (
    typeof a.apiKey === "string" &&
    SCOPE.test(a.apiKey) &&
    keys.every((k) => k === "apiKey" || (k === "user" && typeof a.user === "boolean"))
  );
}
