// The OpenAPI 3.1 document, generated from the live route registry by @fastify/swagger: every route
// registered after this plugin (Bulwark's modules and an application's own routes) is in it, with
// the protections its `config` declares turned into OpenAPI terms — `auth` into security
// requirements, `rateLimit` and `audit` into `x-bulwark-*` extensions, and the error envelope with
// the statuses the pipeline can answer. Nothing is listed by hand, so the document cannot drift.
import fastifySwagger from "@fastify/swagger";
import type { FastifyInstance, RouteOptions } from "fastify";
import type { OpenAPIV3_1 } from "openapi-types";
import { ERROR_CODES } from "../core/errors.js";
import type { AuthRequirement } from "./types.js";

type SecurityRequirement = Record<string, string[]>;
type Operation = {
  responses?: Record<string, unknown>;
  security?: SecurityRequirement[];
  requestBody?: unknown;
  [key: string]: unknown;
};

/** The error envelope (docs/errors.md), with every stable code. */
const ERROR_SCHEMA: OpenAPIV3_1.SchemaObject = {
  type: "object",
  required: ["error"],
  additionalProperties: false,
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "request_id"],
      additionalProperties: false,
      properties: {
        code: { type: "string", enum: Object.keys(ERROR_CODES) },
        message: { type: "string" },
        request_id: { type: "string" },
        details: {
          type: "array",
          items: {
            type: "object",
            required: ["path", "message"],
            additionalProperties: false,
            properties: { path: { type: "string" }, message: { type: "string" } },
          },
        },
      },
    },
  },
};

/** How each credential travels; `cookie` and `csrf` together are browser mode (double-submit CSRF). */
export const SECURITY_SCHEMES: Record<string, OpenAPIV3_1.SecuritySchemeObject> = {
  bearer: {
    type: "http",
    scheme: "bearer",
    description:
      "An access token (EdDSA JWT from `/api/auth/login` or `/api/auth/refresh`), an API key, or an outside identity provider's token.",
  },
  apiKey: {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
    description:
      "An API key (`bwk_…`); the same key is also accepted as a bearer token. The requirement lists the scope the route needs.",
  },
  cookie: {
    type: "apiKey",
    in: "cookie",
    name: "bulwark_access",
    description:
      "Browser mode: the HttpOnly access-token cookie (`__Host-bulwark_access` over https). Unsafe methods also need the CSRF header.",
  },
  csrf: {
    type: "apiKey",
    in: "header",
    name: "X-CSRF-Token",
    description:
      "Browser mode: equals the `bulwark_csrf` cookie; required with the cookie on POST, PUT, PATCH and DELETE.",
  },
  metricsToken: { type: "http", scheme: "bearer", description: "The operator's `METRICS_TOKEN`." },
};

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The security requirements (alternatives) of a route's `auth`; `[{}]` first when credentials are optional. */
export function securityOf(auth: AuthRequirement, method: string): SecurityRequirement[] | undefined {
  if (auth === "public") return undefined;
  if (typeof auth === "object" && "token" in auth) return [{ metricsToken: [] }];
  const browser: SecurityRequirement = SAFE_METHODS.has(method) ? { cookie: [] } : { cookie: [], csrf: [] };
  if (auth === "optional") return [{}, { bearer: [] }, { apiKey: [] }, browser];
  if (auth === "user") return [{ bearer: [] }, browser];
  // An API key reaches admin routes only with the `admin` scope (and an admin owner).
  if (auth === "admin") return [{ bearer: ["admin"] }, { apiKey: ["admin"] }, browser];
  const scope = [auth.apiKey];
  return [{ bearer: scope }, { apiKey: scope }, ...(auth.user ? [browser] : [])];
}

/** The error statuses the pipeline can answer for a route, beyond what the route itself declares. */
export function errorStatuses(
  config: { auth?: AuthRequirement; rateLimit?: unknown; rawBody?: unknown; multipart?: unknown },
  method: string,
): number[] {
  const statuses = [400, 404, 500, 503];
  const auth = config.auth ?? "public";
  if (auth !== "public") statuses.push(401);
  if (auth !== "public" && auth !== "optional") statuses.push(403);
  if (config.rateLimit !== false) statuses.push(429);
  if (!SAFE_METHODS.has(method)) statuses.push(413, 415);
  if (config.multipart) statuses.push(422);
  return statuses.sort((a, b) => a - b);
}

const codesOf = (status: number) =>
  Object.entries(ERROR_CODES)
    .filter(([, spec]) => spec.status === status)
    .map(([code]) => code);

/**
 * Registers @fastify/swagger on the root instance, before any route: its onRoute hook then sees
 * every route registered afterwards, an application's included. Serving the document is a
 * separate choice (the api-docs module, OPENAPI_ENABLED); `app.swagger()` always works.
 */
export async function registerOpenApi(
  app: FastifyInstance,
  options: { publicUrl: string; version: string },
): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Bulwark",
        version: options.version,
        description:
          "Every route this instance serves, generated from its route registry. Errors share one envelope; `x-bulwark-rate-limit` names the rate-limit class counted on top of the global budget, `x-bulwark-audit` the audit event a call is recorded under.",
      },
      servers: [{ url: options.publicUrl }],
      components: { securitySchemes: SECURITY_SCHEMES, schemas: { Error: ERROR_SCHEMA } },
    },
    // HEAD routes are Fastify's automatic twins of GET; the route registry skips them too.
    exposeHeadRoutes: false,
    transform: ({ schema, url, route }) => {
      const method = [route.method].flat()[0] as string;
      const config = (route.config ?? {}) as RouteOptions["config"] & { auth?: AuthRequirement };
      const security = securityOf(config.auth ?? "public", method);
      const extra: Record<string, unknown> = {
        "x-bulwark-auth": config.auth,
        "x-bulwark-rate-limit": config.rateLimit === false ? "none" : config.rateLimit,
        "x-bulwark-error-statuses": errorStatuses(config, method),
        ...(config.audit ? { "x-bulwark-audit": config.audit } : {}),
        ...(config.rawBody ? { "x-bulwark-body": "raw" } : config.multipart ? { "x-bulwark-body": "multipart" } : {}),
        ...(security ? { security } : {}),
      };
      const tag =
        url
          .replace(/^\/(api\/)?/, "")
          .split("/")[0]
          ?.replace(/^\./, "") || "root";
      // @fastify/websocket hides its routes from the document; a WebSocket endpoint is still part of the API.
      const websocket = (route as { websocket?: boolean }).websocket === true;
      const described = websocket
        ? {
            ...(schema ?? {}),
            hide: false,
            "x-bulwark-websocket": true,
            description: "Upgrades to a WebSocket (101 Switching Protocols).",
          }
        : (schema ?? {});
      return { schema: { ...described, tags: [tag], ...extra } as typeof schema, url };
    },
    transformObject: (document) =>
      "openapiObject" in document ? withErrorResponses(document.openapiObject) : document.swaggerObject,
  });
}

/** Adds the error envelope to each operation for every status the pipeline can answer it with. */
function withErrorResponses<T extends { paths?: object }>(document: T): T {
  for (const item of Object.values(document.paths ?? {}) as Record<string, Operation>[]) {
    for (const operation of Object.values(item)) {
      const statuses = operation["x-bulwark-error-statuses"] as number[] | undefined;
      delete operation["x-bulwark-error-statuses"];
      const responses = (operation.responses ??= {});
      for (const status of statuses ?? []) {
        if (responses[String(status)]) continue;
        responses[String(status)] = {
          description: `Error: ${codesOf(status)
            .map((c) => `\`${c}\``)
            .join(", ")}`,
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        };
      }
      if (operation["x-bulwark-body"] === "raw") {
        operation.requestBody = {
          required: true,
          description: "The signed bytes, verified before parsing.",
          content: { "application/json": { schema: {} } },
        };
      } else if (operation["x-bulwark-body"] === "multipart") {
        operation.requestBody = {
          required: true,
          description: "Parts streamed to the handler, which checks each one (see the route's documentation).",
          content: { "multipart/form-data": { schema: { type: "object" } } },
        };
      }
    }
  }
  return document;
}
