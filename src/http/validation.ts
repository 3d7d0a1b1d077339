// Validation of every request part with Ajv: bodies are checked strictly (no type coercion, unknown
// fields rejected), while query strings and path parameters get the coercion strings need.
import { Ajv, type ErrorObject, type Options } from "ajv";
import addFormatsModule from "ajv-formats";
import type { FastifySchema, FastifySchemaCompiler } from "fastify";
import type { ErrorDetail } from "../core/errors.js";
import type { DeferredCompiles } from "./deferred-compile.js";

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv,
) => Ajv;

const base: Options = {
  // Never delete unknown fields silently: reject them (Fastify's default removes them).
  removeAdditional: false,
  useDefaults: true,
  // One error is enough to answer; collecting all of them costs time on hostile input.
  allErrors: false,
  strict: false,
};

function makeAjv(coerceTypes: Options["coerceTypes"]): Ajv {
  const ajv = new Ajv({ ...base, coerceTypes });
  addFormats(ajv);
  return ajv;
}

const bodyAjv = makeAjv(false);
const paramsAjv = makeAjv("array");

/**
 * Fastify's validator compiler: strict for bodies, coercing for query strings, params and headers.
 * Each schema compiles at its first use or in the background after listen (`deferred`).
 */
export const validatorCompiler =
  (deferred: DeferredCompiles): FastifySchemaCompiler<unknown> =>
  ({ schema, httpPart }) =>
    deferred.defer(() => validatorFor(schema as object, httpPart));

function validatorFor(schema: object, httpPart: string | undefined) {
  const validate = (httpPart === "body" ? bodyAjv : paramsAjv).compile(schema);
  return (data: unknown) => {
    // No body at all (Fastify gives undefined or null) counts as an empty object: a body-less POST
    // or DELETE passes a schema that allows `{}`, and its handler receives that `{}`, not null.
    const value = httpPart === "body" && (data === undefined || data === null) ? {} : data;
    if (validate(value)) return { value };
    return { error: Object.assign(new Error("validation failed"), { validation: validate.errors ?? [] }) };
  };
}

/** Turns Ajv errors into the `details` of an invalid_request error: a field path and a message. */
export function validationDetails(errors: readonly ErrorObject[], context: string): ErrorDetail[] {
  return errors.map((error) => {
    const base = error.instancePath.slice(1).replaceAll("/", ".");
    const params = error.params as Record<string, unknown>;
    if (error.keyword === "additionalProperties") {
      return { path: join(base, String(params.additionalProperty)), message: "unknown field" };
    }
    if (error.keyword === "required") {
      return { path: join(base, String(params.missingProperty)), message: "is required" };
    }
    const message =
      error.keyword === "pattern" ? `must match ${String(params.pattern)}` : (error.message ?? "is invalid");
    return { path: base || context, message };
  });
}

function join(base: string, field: string): string {
  return base ? `${base}.${field}` : field;
}

type JsonSchema = {
  type?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: unknown;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
};

/** Whether an `additionalProperties` value lets any unknown field through: unset, `true`, or the empty schema `{}`. */
function acceptsAnyField(value: unknown): boolean {
  return (
    value === undefined ||
    value === true ||
    (typeof value === "object" && value !== null && Object.keys(value).length === 0)
  );
}

/** Names the first object in a schema that would accept unknown fields, or undefined when all are closed. */
export function openObjectIn(schema: unknown, path = "$"): string | undefined {
  const s = schema as JsonSchema | undefined;
  if (!s || typeof s !== "object") return undefined;
  if ((s.type === "object" || s.properties) && acceptsAnyField(s.additionalProperties)) return path;
  for (const [name, child] of Object.entries(s.properties ?? {})) {
    const found = openObjectIn(child, `${path}.${name}`);
    if (found) return found;
  }
  for (const child of [s.items, ...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])]) {
    const found = openObjectIn(child, path);
    if (found) return found;
  }
  return undefined;
}

/**
 * Refuses, at registration, a route whose body, query or params schema would let unknown fields
 * through — unset `additionalProperties`, `true` or `{}` alike — so mass assignment needs a visible
 * decision: a route that must take arbitrary fields in its body declares `config: { openBody: true }`.
 */
export function assertClosedSchemas(route: {
  method: string | string[];
  url: string;
  schema?: FastifySchema;
  config?: unknown;
}): void {
  const openBody = (route.config as { openBody?: unknown } | undefined)?.openBody === true;
  for (const part of ["body", "querystring", "params"] as const) {
    if (part === "body" && openBody) continue;
    const where = openObjectIn(route.schema?.[part]);
    if (where) {
      throw new Error(
        `route ${String(route.method)} ${route.url}: ${part} schema at ${where} must set additionalProperties: false (use Type.Object(..., { additionalProperties: false }); a body that must stay open declares config: { openBody: true })`,
      );
    }
  }
}
