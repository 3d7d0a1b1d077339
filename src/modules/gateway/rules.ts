// The gateway's rules file: which paths and methods of the upstream are reachable through Bulwark,
// and with which protections. Read once at start, validated against a closed schema, and refused
// with a message naming the rule and the field, so a typo never leaves a path open.
import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject } from "ajv";
import { Type, type Static } from "typebox";
import { parse as parseYaml } from "yaml";
import { RATE_LIMIT_CLASSES } from "../../http/types.js";

const SCOPE = "^[a-z][a-z0-9_:.-]{0,63}$";

const Auth = Type.Union([
  Type.Union([Type.Literal("public"), Type.Literal("optional"), Type.Literal("user"), Type.Literal("admin")]),
  Type.Object(
    { apiKey: Type.String({ pattern: SCOPE }), user: Type.Optional(Type.Boolean()) },
    { additionalProperties: false },
  ),
]);

const Rule = Type.Object(
  {
    /** A short name: the rule's label in metrics and logs, and in error messages. */
    name: Type.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,63}$" }),
    /** A path prefix, matched by whole segments: `/api/orders` matches `/api/orders` and `/api/orders/7`, not `/api/ordersx`. */
    prefix: Type.String({ pattern: "^/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?$", maxLength: 200 }),
    methods: Type.Array(
      Type.Union([
        Type.Literal("GET"),
        Type.Literal("HEAD"),
        Type.Literal("POST"),
        Type.Literal("PUT"),
        Type.Literal("PATCH"),
        Type.Literal("DELETE"),
      ]),
      { minItems: 1, uniqueItems: true },
    ),
    auth: Auth,
    rate_limit: Type.Optional(
      Type.Union([
        Type.Literal("default"),
        Type.Literal("sensitive"),
        Type.Literal("auth-login"),
        Type.Literal("auth-register"),
      ]),
    ),
    /** Largest request body in bytes; larger gets 413 (counted while it streams). Default `MAX_BODY_BYTES`. */
    body_limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_073_741_824 })),
    /** Media types a request body may have; others get 415. Default `application/json`. */
    content_types: Type.Optional(
      Type.Array(Type.String({ pattern: "^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$" }), {
        minItems: 1,
        uniqueItems: true,
      }),
    ),
    /** An audit event type: Bulwark's refusals and every write the upstream answered are recorded under it. */
    audit: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$", maxLength: 64 })),
    /** `false`: no CORS headers, whatever `CORS_ORIGINS` allows (server-to-server paths). Default true. */
    cors: Type.Optional(Type.Boolean()),
    /** WebSocket upgrades on this prefix are proxied too (GET must be among the methods). */
    websocket: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const RulesFile = Type.Object(
  { rules: Type.Array(Rule, { minItems: 1, maxItems: 500 }) },
  { additionalProperties: false },
);

export type GatewayRule = Static<typeof Rule>;

/** A rule with its defaults filled in. */
export type ResolvedRule = Required<Omit<GatewayRule, "audit">> & { audit: string | undefined };

const validate = new Ajv({ allErrors: false, strict: false }).compile<Static<typeof RulesFile>>(RulesFile);

/** The prefixes Bulwark itself answers under, and none of whose paths may be proxied. */
export const ALWAYS_RESERVED = [
  "/api/auth",
  "/api/users",
  "/api/keys",
  "/api/admin",
  "/api/webhooks",
  "/api/files",
  "/api/config",
  "/api/sessions",
  "/api/whoami",
  "/api/realtime",
  "/.well-known",
  "/health",
  "/ready",
  "/metrics",
  "/env.js",
];

/** Why a file or text cannot be used as rules, naming the rule and the field. */
export class RulesError extends Error {
  constructor(file: string, message: string) {
    super(`GATEWAY_RULES ${file}: ${message}`);
    this.name = "RulesError";
  }
}

/** Reads and validates the rules file (YAML, or JSON, which YAML reads too). */
export function loadRules(file: string, defaults: { bodyLimit: number }): ResolvedRule[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new RulesError(file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return parseRules(text, defaults, file);
}

/** Validates rules given as text; `file` names them in errors. */
export function parseRules(text: string, defaults: { bodyLimit: number }, file = "rules"): ResolvedRule[] {
  let data: unknown;
  try {
    // Aliases are refused: a few lines of anchors can expand into gigabytes (billion laughs).
    data = parseYaml(text, { maxAliasCount: 0, uniqueKeys: true });
  } catch (error) {
    throw new RulesError(file, `is not valid YAML or JSON: ${(error as Error).message.split("\n")[0]}`);
  }
  // The last error is the outermost: for a union, "matches none of" rather than one branch's complaint.
  if (!validate(data)) throw new RulesError(file, describe(data, validate.errors?.at(-1)));
  const rules = data.rules.map((rule): ResolvedRule => ({
    name: rule.name,
    prefix: rule.prefix,
    methods: rule.methods,
    auth: rule.auth,
    rate_limit: rule.rate_limit ?? "default",
    body_limit: rule.body_limit ?? defaults.bodyLimit,
    content_types: rule.content_types ?? ["application/json"],
    audit: rule.audit,
    cors: rule.cors ?? true,
    websocket: rule.websocket ?? false,
  }));
  const names = new Set<string>();
  const routes = new Set<string>();
  for (const rule of rules) {
    const where = `rule "${rule.name}"`;
    if (names.has(rule.name)) throw new RulesError(file, `${where}: name: used by two rules`);
    names.add(rule.name);
    for (const method of rule.methods) {
      const key = `${method} ${rule.prefix}`;
      if (routes.has(key))
        throw new RulesError(file, `${where}: methods: ${method} ${rule.prefix} is already covered by an earlier rule`);
      routes.add(key);
    }
    const reserved = ALWAYS_RESERVED.find((r) => within(rule.prefix, r));
    if (reserved)
      throw new RulesError(
        file,
        `${where}: prefix: ${rule.prefix} is inside ${reserved}, which Bulwark answers itself`,
      );
    if (rule.websocket && !rule.methods.includes("GET"))
      throw new RulesError(file, `${where}: websocket: needs GET among the methods`);
  }
  return rules;
}

/** Whether a path is a prefix's own path or under it, by whole segments. */
export function within(path: string, prefix: string): boolean {
  if (prefix === "/") return true;
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** "rule "orders" (rules[2]): auth: must be …" from Ajv's first error. */
function describe(data: unknown, error: ErrorObject | undefined): string {
  if (!error) return "is not a rules file";
  const parts = error.instancePath.split("/").slice(1);
  let where = "";
  if (parts[0] === "rules" && parts[1] !== undefined) {
    const rule = (data as { rules: { name?: unknown }[] }).rules[Number(parts[1])];
    const name = typeof rule?.name === "string" ? `rule "${rule.name}" (rules[${parts[1]}])` : `rules[${parts[1]}]`;
    const field = parts.slice(2).join(".");
    where = field ? `${name}: ${field}` : name;
  } else {
    where = parts.join(".") || "top level";
  }
  const extra =
    error.keyword === "additionalProperties"
      ? ` (unknown field "${(error.params as { additionalProperty: string }).additionalProperty}")`
      : error.keyword === "required"
        ? ` (missing "${(error.params as { missingProperty: string }).missingProperty}")`
        : error.keyword === "anyOf" && parts[2] === "auth"
          ? " (public, optional, user, admin or { apiKey: scope })"
          : error.keyword === "anyOf" && parts[2] === "rate_limit"
            ? ` (${RATE_LIMIT_CLASSES.filter((c) => c !== "webhook").join(", ")})`
            : "";
  return `${where}: ${error.message ?? "is invalid"}${extra}`;
}
