// Scrubbing: secrets never reach the audit table. Metadata is written by every module, often from
// request data, so it is cleaned here once rather than trusted at each call site.

export const REDACTED = "[redacted]";

/** Key names whose values are secrets whatever they look like. */
const SECRET_KEY = /pass|secret|token|key$|^key|authorization|cookie|code/i;
/** Key names that carry identifiers (`key_id`, `session_id`): public, kept despite the pattern above. */
const ID_KEY = /(?:^|_)ids?$/i;
/** Our own identifiers (core/ids.ts): 32 hex, version 7, variant 10 — kept under an id key. */
const OWN_ID = /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/;

/** Credentials recognisable by their shape wherever they appear, including columns other than metadata. */
const CREDENTIALS: readonly RegExp[] = [
  /\bbearer\s+[^\s,;"']+/gi,
  /\bbasic\s+[A-Za-z0-9+/=]{8,}/gi,
  /\bbwk_[A-Za-z0-9_]+/g,
  /\bwhsec_[A-Za-z0-9+/=_-]+/g,
  // JWT / JWS / JWE: base64url JSON header `{"…` is `eyJ…`, then dot-separated parts.
  /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)*/g,
];
/** Long base64 or hex runs (tokens, keys, hashes); only counted when they hold a digit or mixed case, so a plain path or word is kept. */
const LONG_RUN = /[A-Za-z0-9+/_-]{32,}={0,2}/g;

export const LIMITS = {
  depth: 6,
  keys: 50,
  items: 50,
  keyLength: 100,
  stringLength: 1000,
  /** Serialised metadata above this is replaced by a marker. */
  metadataBytes: 8192,
} as const;

// PostgreSQL refuses NUL in text and jsonb, and a lone surrogate would be stored as U+FFFD, so the
// stored row would not hash as written: both are replaced before hashing.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A string PostgreSQL stores exactly as given, cut to `max` characters. */
export function storable(value: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/\u0000/g, "").replace(LONE_SURROGATE, "\uFFFD");
  if (clean.length <= max) return clean;
  // Do not cut a surrogate pair in half.
  const end = /[\uD800-\uDBFF]/.test(clean[max - 1] ?? "") ? max - 1 : max;
  return clean.slice(0, end);
}

/** Replaces credentials recognisable by shape (bearer, API keys, JWTs, webhook secrets). */
export function scrubCredentials(value: string): string {
  let out = value;
  for (const pattern of CREDENTIALS) out = out.replace(pattern, REDACTED);
  return out;
}

/** Credentials by shape, then long token-like runs. */
function scrubString(value: string): string {
  return scrubCredentials(value).replace(LONG_RUN, (run) =>
    /\d/.test(run) || (/[a-z]/.test(run) && /[A-Z]/.test(run)) ? REDACTED : run,
  );
}

/** A nullable text column: credentials removed, length bounded. */
export function scrubText(value: string | null | undefined, max: number): string | null {
  if (value === null || value === undefined) return null;
  return storable(scrubCredentials(storable(value, max)), max);
}

/** Metadata ready to store: secrets redacted, sizes bounded, reduced to plain JSON. */
export function scrubMetadata(metadata: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!metadata) return {};
  const clean = scrubObject(metadata, 0);
  const size = Buffer.byteLength(JSON.stringify(clean));
  return size > LIMITS.metadataBytes ? { _truncated: true, _bytes: size } : clean;
}

function scrubObject(value: object, depth: number): Record<string, unknown> {
  const entries: [string, unknown][] = [];
  for (const [rawKey, child] of Object.entries(value).slice(0, LIMITS.keys)) {
    const key = storable(rawKey, LIMITS.keyLength);
    const isId = ID_KEY.test(key);
    if (SECRET_KEY.test(key) && !isId) {
      entries.push([key, REDACTED]);
      continue;
    }
    if (isId && typeof child === "string" && OWN_ID.test(child)) {
      entries.push([key, child]);
      continue;
    }
    const clean = scrubValue(child, depth + 1);
    if (clean !== undefined) entries.push([key, clean]);
  }
  // fromEntries defines own properties, so even a `__proto__` key stays plain data.
  return Object.fromEntries(entries);
}

function scrubValue(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case "string":
      return scrubString(storable(value, LIMITS.stringLength));
    case "number":
      return Number.isFinite(value) ? value : null;
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return null;
  if (depth > LIMITS.depth) return "[too deep]";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Error) return scrubString(storable(value.message, LIMITS.stringLength));
  if (Array.isArray(value)) return value.slice(0, LIMITS.items).map((item) => scrubValue(item, depth + 1) ?? null);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return REDACTED;
  return scrubObject(value as object, depth);
}
