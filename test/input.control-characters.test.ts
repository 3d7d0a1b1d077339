// Attack: NUL and other control characters, and dates outside any sane range, in every string a route takes — to crash a query (500), corrupt stored text, or forge log and mail lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { MULTILINE_PATTERN } from "../src/http/text.js";
import { validatorCompiler } from "../src/http/validation.js";
import { deferredCompiles } from "../src/http/deferred-compile.js";
import type { RouteRecord } from "../src/app.js";
import { randomToken } from "../src/core/crypto/index.js";
import { startApp, type TestApp } from "./harness.js";
import { signedInAdmin } from "./webhooks.js";

type JsonSchema = {
  type?: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  format?: string;
  const?: unknown;
  pattern?: string;
};

/** Control characters (Cc) every free-text field must refuse; passwords included. */
const CONTROL = ["a\u0000b", "\u0000", "a\r\nb", "a\nb", "a\u001b[31mb", "a\u007fb", "a\u0085b", "a\u0008b"];
/** Multiline text (message bodies) takes LF, CRLF and TAB, and refuses every other control character, a lone CR too. */
const MULTILINE_OK = ["a\nb", "a\r\nb", "a\tb", "a\n\nb\n"];
const MULTILINE_BAD = [
  ...CONTROL.filter((v) => !MULTILINE_OK.includes(v)),
  "a\rb",
  "a\r",
  "a\u000bb",
  "a\u000cb",
  "a\u202eb",
];
/** The only fields that take several lines: a new one is a decision, made here. */
const MULTILINE_FIELDS = [
  "PATCH /api/conversations/:id/messages/:message_id body.body",
  "POST /api/conversations/:id/messages body.body",
];
/** Dates no account, key or audit filter means: year 0, year 9999. */
const DATES = {
  date: ["0000-01-01", "9999-12-31", "0001-01-01"],
  "date-time": ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"],
} as const;

/** Every string schema within `schema`, with its path. */
function strings(schema: JsonSchema | undefined, path: string): { path: string; schema: JsonSchema }[] {
  if (!schema || typeof schema !== "object") return [];
  if (schema.type === "string" && schema.const === undefined) return [{ path, schema }];
  return [
    ...Object.entries(schema.properties ?? {}).flatMap(([name, child]) => strings(child, `${path}.${name}`)),
    ...strings(schema.items, `${path}[]`),
    ...(schema.anyOf ?? []).flatMap((child) => strings(child, path)),
  ];
}

function accepts(schema: JsonSchema, value: string): boolean {
  const validate = validatorCompiler(deferredCompiles())({
    schema: { type: "object", properties: { v: schema }, required: ["v"], additionalProperties: false },
    httpPart: "body",
    method: "POST",
    url: "/",
  });
  return !("error" in (validate({ v: value }) as { error?: unknown }));
}

async function withApp(run: (t: TestApp, routes: readonly RouteRecord[]) => Promise<void>): Promise<void> {
  const many = "100000";
  const t = await startApp({
    env: {
      RATE_LIMIT_PER_MINUTE: many,
      RATE_LIMIT_PER_HOUR: many,
      AUTH_LOGIN_PER_MINUTE: many,
      AUTH_REGISTER_PER_MINUTE: many,
      SENSITIVE_PER_MINUTE: many,
      STRIPE_WEBHOOK_SECRET: `whsec_${randomToken(24)}`,
    },
  });
  try {
    await run(t, t.app.bulwark.routes());
  } finally {
    await t.close();
  }
}

test("every string field of every route's body, query and path schema refuses control characters, and date fields refuse year 0 and 9999", async () => {
  await withApp(async (_t, routes) => {
    const accepted: string[] = [];
    const refusedLines: string[] = [];
    const multiline: string[] = [];
    let checked = 0;
    for (const route of routes) {
      for (const part of ["body", "querystring", "params"] as const) {
        for (const field of strings(route.schema[part] as JsonSchema | undefined, part)) {
          checked++;
          const name = `${route.method} ${route.url} ${field.path}`;
          const format = field.schema.format;
          const lines = field.schema.pattern === MULTILINE_PATTERN;
          if (lines) multiline.push(name);
          const hostile = lines
            ? MULTILINE_BAD
            : format === "date" || format === "date-time"
              ? [...CONTROL, ...DATES[format]]
              : CONTROL;
          for (const value of hostile)
            if (accepts(field.schema, value)) accepted.push(`${name} ${JSON.stringify(value)}`);
          if (lines)
            for (const value of MULTILINE_OK)
              if (!accepts(field.schema, value)) refusedLines.push(`${name} ${JSON.stringify(value)}`);
        }
      }
    }
    assert.ok(checked > 30, `found the string fields (${checked})`);
    assert.deepEqual(accepted, [], "string fields that accept a control character or an absurd date");
    assert.deepEqual(multiline.sort(), MULTILINE_FIELDS, "the fields that take line breaks");
    assert.deepEqual(refusedLines, [], "multiline fields that refuse a line break or a tab");
  });
});

/** What a refused request must leave as it was. */
async function snapshot(app: FastifyInstance): Promise<string> {
  const rows = [];
  for (const table of ["users", "api_keys", "webhook_endpoints", "external_identities", "mfa_totp", "account_tokens"]) {
    rows.push(
      await app.bulwark.db.execute(
        sql`select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h, count(*) as n from ${sql.identifier(table)} t`,
      ),
    );
  }
  return JSON.stringify(rows);
}

test("driving every registered route with a control character in each string field answers 400/401/403/404, never 500, and changes nothing", async () => {
  await withApp(async (t, routes) => {
    const admin = await signedInAdmin(t.app);
    const before = await snapshot(t.app);
    const bad: string[] = [];
    let sent = 0;
    for (const route of routes) {
      const params = route.url.match(/:[a-zA-Z_]+/g) ?? [];
      const fields = (["body", "querystring", "params"] as const).flatMap((part) => {
        const schema = route.schema[part] as JsonSchema | undefined;
        return Object.entries(schema?.properties ?? {}).map(([name]) => ({ part, name }));
      });
      // Path parameters have a field even without a schema.
      for (const p of params)
        if (!fields.some((f) => f.part === "params" && f.name === p.slice(1)))
          fields.push({ part: "params", name: p.slice(1) });
      for (const field of fields) {
        const format = (route.schema[field.part] as JsonSchema | undefined)?.properties?.[field.name]?.format;
        for (const value of [
          "a\u0000b",
          "a\r\nb",
          ...(format === "date-time" || format === "date" ? ["0000-01-01T00:00:00Z", "0000-01-01"] : []),
        ]) {
          let url = route.url;
          for (const p of params)
            url = url.replace(
              p,
              field.part === "params" && p.slice(1) === field.name
                ? encodeURIComponent(value)
                : "0123456789abcdef0123456789abcdef",
            );
          if (field.part === "querystring") url += `?${field.name}=${encodeURIComponent(value)}`;
          const res = await t.app.inject({
            method: route.method as "GET",
            url,
            headers: { authorization: admin.authorization, "content-type": "application/json" },
            ...(route.method === "GET" || (route.method === "DELETE" && field.part !== "body")
              ? {}
              : { payload: JSON.stringify(field.part === "body" ? { [field.name]: value } : {}) }),
          });
          sent++;
          if (![400, 401, 403, 404].includes(res.statusCode))
            bad.push(
              `${route.method} ${route.url} ${field.part}.${field.name}=${JSON.stringify(value)}: ${res.statusCode} ${res.body.slice(0, 120)}`,
            );
        }
      }
    }
    assert.ok(sent > 50, `requests sent (${sent})`);
    assert.deepEqual(bad, [], "routes that did not refuse the input");
    assert.equal(await snapshot(t.app), before, "nothing changed");
  });
});
