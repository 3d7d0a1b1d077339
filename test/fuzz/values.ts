// fast-check arbitraries for the fuzzer: values a JSON schema (from the OpenAPI document) accepts,
// and values meant to break it — wrong types, control characters, unicode tricks, huge and deep.
import fc from "fast-check";

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
};

/** Strings that have broken parsers, databases, logs and mail before. */
export const HOSTILE_STRINGS: readonly string[] = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "a\r\nSet-Cookie: x=1",
  "a\nb",
  "\u001b[31mred",
  "\u007f",
  "\u0085",
  "\u2028\u2029",
  "\u202e\u0067\u0070\u006a.exe", // right-to-left override
  "\u200b\u200c\u200d\ufeff", // zero-width characters and a BOM
  "adm\u0131n", // dotless i: a homoglyph of "admin"
  "\uff41\uff44\uff4d\uff49\uff4e", // full-width "admin" (NFKC folds it)
  "\ufdfa".repeat(50), // one character that NFKC expands to 18
  "e\u0301".repeat(200), // combining marks
  "\ud800", // a lone surrogate
  "\udfff\ud800",
  "\u{10ffff}\u{e0001}",
  "😀".repeat(100),
  "../../../../etc/passwd",
  "..\\..\\windows\\win.ini",
  "%2e%2e%2f%2e%2e%2f",
  "%00",
  "%",
  "' OR '1'='1",
  "'; drop table users; --",
  "$1",
  "\\",
  '"',
  "<script>alert(1)</script>",
  "${7*7}{{7*7}}",
  "__proto__",
  "constructor",
  "null",
  "undefined",
  "NaN",
  "-0",
  "1e309",
  "9".repeat(400),
  "0000-01-01T00:00:00Z",
  "9999-12-31T23:59:59Z",
  "2026-02-30",
  "2026-01-01T25:61:61Z",
  "http://127.0.0.1:6379/",
  "file:///etc/passwd",
  "javascript:alert(1)",
  "bwk_x_y",
  "a".repeat(5000),
];

/** Any JSON value, small. */
const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 });

/** A string the schema's pattern and length accept (best effort: falls back to plain text). */
function stringFor(schema: JsonSchema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? 40, 200);
  if (schema.format === "date-time")
    return fc
      .date({ min: new Date("1971-01-01T00:00:00Z"), max: new Date("2199-12-31T00:00:00Z"), noInvalidDate: true })
      .map((d) => d.toISOString());
  if (schema.format === "date")
    return fc
      .date({ min: new Date("1971-01-01T00:00:00Z"), max: new Date("2025-12-31T00:00:00Z"), noInvalidDate: true })
      .map((d) => d.toISOString().slice(0, 10));
  if (schema.format === "email") return fc.emailAddress();
  if (schema.format === "uri" || schema.format === "url") return fc.webUrl();
  if (schema.format === "uuid") return fc.uuid();
  if (schema.pattern && schema.pattern !== "^[^\\p{C}]*$") {
    try {
      const re = new RegExp(schema.pattern, "u");
      return fc.stringMatching(re).filter((s) => s.length >= min && s.length <= (schema.maxLength ?? Infinity));
    } catch {
      // A pattern the RegExp engine cannot read: plain text below.
    }
  }
  return fc.string({ minLength: min, maxLength: Math.max(min, max), unit: "grapheme" }).map((s) =>
    // The house pattern `^[^\p{C}]*$` refuses control and format characters; keep valid-shaped values valid.
    s.replace(/\p{C}/gu, "x"),
  );
}

/** Arbitraries by schema: the same schema is drawn from again and again, and building costs. */
function memo(build: (schema: JsonSchema | undefined) => fc.Arbitrary<unknown>) {
  const built = new WeakMap<JsonSchema, fc.Arbitrary<unknown>>();
  let none: fc.Arbitrary<unknown> | undefined;
  return (schema: JsonSchema | undefined): fc.Arbitrary<unknown> => {
    if (!schema) return (none ??= build(undefined));
    let arb = built.get(schema);
    if (!arb) built.set(schema, (arb = build(schema)));
    return arb;
  };
}

/** A value of the shape the schema describes (valid, or close to it: patterns are best effort). */
export const validFor = memo((schema) => validAt(schema, 0));

function validAt(schema: JsonSchema | undefined, depth: number): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return anyJson;
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((s) => validAt(s, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      return stringFor(schema);
    case "integer":
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1_000_000 });
    case "number":
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(validAt(schema.items, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 5, 5),
      });
    case "object": {
      const properties = schema.properties ?? {};
      const required = schema.required ?? [];
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, child] of Object.entries(properties)) record[name] = validAt(child, depth + 1);
      return fc.record(record, { requiredKeys: required.filter((k) => k in properties) });
    }
    default:
      return anyJson;
  }
}

/** A value a field of this schema should refuse: the wrong type, out of range, hostile text. */
export const hostileFor = memo(hostileOf);

function hostileOf(schema: JsonSchema | undefined): fc.Arbitrary<unknown> {
  const type = Array.isArray(schema?.type) ? schema?.type[0] : schema?.type;
  const wrongType = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.constant({}),
    fc.constant([]),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  );
  const text = fc.oneof(
    fc.constantFrom(...HOSTILE_STRINGS),
    fc.string({ unit: "binary", maxLength: 60 }),
    fc.string({ unit: "binary-ascii", maxLength: 60 }),
    fc.nat({ max: 20_000 }).map((n) => "x".repeat((schema?.maxLength ?? 0) + 1 + n)),
  );
  const numbers = fc.oneof(
    fc.constantFrom(-1, 0, -0, 2 ** 31, 2 ** 53 + 1, 1e308, -1e308, 0.5, Number.MAX_SAFE_INTEGER),
    fc.integer(),
    fc.double(),
  );
  if (type === "string") return fc.oneof({ weight: 3, arbitrary: text }, wrongType);
  if (type === "integer" || type === "number") return fc.oneof(numbers, text, wrongType);
  return fc.oneof(text, numbers, wrongType);
}

/** Object keys that must be refused as unknown, and that have polluted prototypes elsewhere. */
export const HOSTILE_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "role",
  "is_admin",
  "user_id",
  "id",
  "",
  "\u0000",
];
