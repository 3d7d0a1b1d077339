// The one table of Bulwark's settings. Each row says whether the setting is public or secret, how
// its value is parsed (and so its default), the rule production enforces, and, for a secret, where
// its value lands in Config so the log scrubber finds it. loadConfig reads the environment by
// walking this table, and docs/configuration.md is generated from it.
import type { Config, TrustProxy } from "./types.js";

export type SettingKind = "public" | "secret";

/** How a setting's value is read. An empty value counts as unset, except for a list. */
export type SettingParse =
  /** Text; without a default, unset is undefined. `devGenerated`: development generates it (dev-secrets.ts). */
  | { type: "string"; default?: string; devGenerated?: boolean }
  | { type: "int"; default: number; min: number; max?: number }
  /** `true`/`false`/`1`/`0`, any letter case. */
  | { type: "bool"; default: boolean }
  | { type: "enum"; values: readonly string[]; default: string }
  /** A comma list; unset is `devDefault` outside production and empty in production; set but empty is empty. */
  | { type: "list"; devDefault?: readonly string[] }
  /** A URL, kept as given (production.ts judges it); `http`: only http:// or https:// is accepted. */
  | { type: "url"; http?: boolean }
  /** `false`, a hop count, or a comma list of proxy addresses and CIDRs; `true` is refused. */
  | { type: "trust-proxy" }
  /** A name ending in `*`: every variable with that prefix that is not a setting of its own, by name. */
  | { type: "prefix" };

type Row = {
  name: string;
  parse: SettingParse;
  /** The default in words, where it is not a plain value of `parse` (computed, or "none: …"). */
  docDefault?: string;
  description: string;
  /** What production demands, in words (the checks are in production.ts). */
  production?: string;
};

/** A setting. A secret one must say where its values are in Config: the log scrubber cannot miss it. */
export type Setting = Row & ({ kind: "public" } | SecretKind);
type SecretKind = { kind: "secret"; secrets: (config: Config) => readonly (string | undefined)[] };
export type SecretSetting = Row & SecretKind;

// `as const` keeps each row's parse kind, from which SettingValues types what the parser returns.
const TABLE = [
  {
    name: "NODE_ENV",
    kind: "public",
    parse: { type: "string", default: "development" },
    description: "`production` turns every configuration warning into a refusal to start.",
  },
  {
    name: "HOST",
    kind: "public",
    parse: { type: "string", default: "127.0.0.1" },
    description: "Interface to listen on.",
  },
  {
    name: "PORT",
    kind: "public",
    parse: { type: "int", default: 8080, min: 0, max: 65535 },
    description: "TCP port to listen on (0 picks a free one).",
  },
  {
    name: "PUBLIC_URL",
    kind: "public",
    parse: { type: "string" },
    docDefault: "`http://HOST:PORT`",
    description: "The URL clients reach Bulwark at; token issuer and link base.",
    production: "must be https",
  },
  {
    name: "FRONTEND_URL",
    kind: "public",
    parse: { type: "url", http: true },
    docDefault: "none: Bulwark's built-in pages at `PUBLIC_URL`",
    description:
      "Where the links in mails land: `FRONTEND_URL/verify-email?token=…`, `/reset-password`, `/accept-invite`, `/undo-email-change` (docs/links.md). Unset, Bulwark serves small built-in pages for them.",
    production: "must be https",
  },
  {
    name: "REDIRECT_URLS",
    kind: "public",
    parse: { type: "list" },
    docDefault: "none",
    description:
      "Comma list of extra URLs a request may name in `redirect_to` (register, forgot password) for its mail's link, as Supabase and Better Auth allow; a `redirect_to` must start with one of them (or with `FRONTEND_URL`).",
  },
  {
    name: "APP_NAME",
    kind: "public",
    parse: { type: "string", default: "Bulwark" },
    description:
      "Your product's name: in mail subjects and bodies, the built-in pages and the authenticator app's label (TOTP issuer).",
  },
  {
    name: "DATA_DIR",
    kind: "public",
    parse: { type: "string", default: "./data" },
    description: "PGlite files, development secrets, development mail outbox, file storage.",
  },
  {
    name: "DATABASE_URL",
    kind: "secret",
    parse: { type: "url" },
    docDefault: "none: PGlite in `DATA_DIR`",
    description: "`postgres://…` to use PostgreSQL instead of the embedded PGlite.",
    production:
      "a non-local host needs `sslmode=require`, `verify-ca` or `verify-full`; `sslmode` and `host` at most once, and `host=` only for a socket directory",
    secrets: (c) => [c.databaseUrl],
  },
  {
    name: "REDIS_URL",
    kind: "secret",
    parse: { type: "url" },
    docDefault: "none: in memory",
    description:
      "`redis://…`; shared rate-limit counters and cross-instance notifications. Required for more than one instance.",
    secrets: (c) => [c.redisUrl],
  },
  {
    name: "SECRET_KEY",
    kind: "secret",
    parse: { type: "string", devGenerated: true },
    description: "At least 32 random bytes (hex or base64url). HMAC key for API keys and tokens.",
    production: "required; ≥ 32 bytes, high entropy, not an example, placeholder or published value",
    secrets: (c) => [c.secretKey],
  },
  {
    name: "ENCRYPTION_KEYS",
    kind: "secret",
    parse: { type: "string", devGenerated: true },
    description: "`id:base64-32-bytes,…`; the first key encrypts, the rest only decrypt (rotation).",
    production: "required; every key exactly 32 random bytes",
    secrets: (c) => [
      c.encryptionKeys,
      ...c.encryptionKeys.split(",").map((entry) => entry.slice(entry.indexOf(":") + 1)),
    ],
  },
  {
    name: "METRICS_TOKEN",
    kind: "secret",
    parse: { type: "string", devGenerated: true },
    description: "Bearer token that `GET /metrics` demands.",
    production: "required; ≥ 32 bytes, high entropy, not an example, placeholder or published value",
    secrets: (c) => [c.metricsToken],
  },
  {
    name: "CORS_ORIGINS",
    kind: "public",
    parse: { type: "list", devDefault: ["http://localhost:5173", "http://localhost:3000"] },
    description: "Comma list of exact origins allowed to call the API from a browser, with credentials.",
    production: "no `*`, no `null`, https origins only",
  },
  {
    name: "TRUST_PROXY",
    kind: "public",
    parse: { type: "trust-proxy" },
    description:
      "`false`, a comma list of proxy addresses or CIDRs (preferred), or a hop count: which `X-Forwarded-For` hops to believe for the client IP. `true` and a CIDR of prefix 0 (`0.0.0.0/0`, `::/0`) are refused.",
  },
  {
    name: "RATE_LIMIT_ENABLED",
    kind: "public",
    parse: { type: "bool", default: true },
    description: "Master switch for rate limiting.",
    production: "must not be false",
  },
  {
    name: "RATE_LIMIT_PER_MINUTE",
    kind: "public",
    parse: { type: "int", default: 60, min: 1 },
    description:
      "Requests per minute per client IP, or per user/key when authenticated. `/health`, `/ready` and `/metrics` are exempt.",
  },
  {
    name: "RATE_LIMIT_PER_HOUR",
    kind: "public",
    parse: { type: "int", default: 1000, min: 1 },
    description: "Requests per hour, keyed like the per-minute limit.",
  },
  {
    name: "AUTH_REGISTER_PER_MINUTE",
    kind: "public",
    parse: { type: "int", default: 5, min: 1 },
    description: "Registrations per minute per client IP (`auth-register` class).",
  },
  {
    name: "AUTH_LOGIN_PER_MINUTE",
    kind: "public",
    parse: { type: "int", default: 10, min: 1 },
    description: "Login attempts per minute per client IP (`auth-login` class).",
  },
  {
    name: "SENSITIVE_PER_MINUTE",
    kind: "public",
    parse: { type: "int", default: 10, min: 1 },
    description: "Calls per minute per principal to routes of the `sensitive` class (key creation, password change…).",
  },
  {
    name: "INTROSPECT_PER_MINUTE",
    kind: "public",
    parse: { type: "int", default: 3000, min: 1 },
    description:
      "Calls per minute per calling API key owner (or key with its own limit) to `POST /api/auth/introspect` (`introspect` class, instead of the global budget).",
  },
  {
    name: "ACCESS_TOKEN_TTL",
    kind: "public",
    parse: { type: "int", default: 900, min: 60, max: 86_400 },
    description: "Lifetime of access tokens (JWT), in seconds (60 to 86400).",
  },
  {
    name: "REFRESH_TOKEN_TTL",
    kind: "public",
    parse: { type: "int", default: 2_592_000, min: 300, max: 31_536_000 },
    description: "Absolute lifetime of a session and its refresh tokens, in seconds; rotation never extends it.",
  },
  {
    name: "LOCKOUT_THRESHOLD",
    kind: "public",
    parse: { type: "int", default: 5, min: 1, max: 100 },
    description:
      "Failed logins per login name before exponential back-off (30 s doubling to 1 h), counted whether or not the account exists; an account's names and its step-ups also share one silent budget. A client presenting the device token of an earlier successful login of that account is exempt.",
  },
  {
    name: "DEVICE_TOKEN_TTL_DAYS",
    kind: "public",
    parse: { type: "int", default: 180, min: 1, max: 3650 },
    description:
      "Days a device token (the lockout exemption of a client that signed in before) stays valid; a password reset ends every earlier one.",
  },
  {
    name: "STEP_UP_TTL",
    kind: "public",
    parse: { type: "int", default: 300, min: 30, max: 3600 },
    description:
      "Seconds a step-up (`POST /api/auth/step-up`: password, or a code when two-factor is on) lets its session create API keys.",
  },
  {
    name: "API_KEYS_PER_USER",
    kind: "public",
    parse: { type: "int", default: 20, min: 1, max: 10_000 },
    description:
      "Live (neither revoked nor expired) API keys a user may hold; creating one more answers 409 `too_many_keys`.",
  },
  {
    name: "PASSWORD_MIN_LENGTH",
    kind: "public",
    parse: { type: "int", default: 12, min: 8, max: 128 },
    description:
      "Minimum password length after NFKC normalisation (8 at the least; the maximum is 128). Common and breached-list passwords and ones containing the username or email are always refused.",
  },
  {
    name: "PASSWORD_POLICY",
    kind: "public",
    parse: { type: "enum", values: ["nist", "classes"], default: "nist" },
    description: "`nist` (length and blocklists only), or `classes` to also demand upper case, lower case and a digit.",
  },
  {
    name: "REGISTRATION",
    kind: "public",
    parse: { type: "enum", values: ["open", "invite", "closed"], default: "open" },
    description:
      "Who may sign up: `open` (anyone, and invitations), `invite` (only with an admin's invitation), `closed` (nobody; operators add accounts with `bulwark users import`).",
    production: "must be set explicitly",
  },
  {
    name: "ADMIN_EMAILS",
    kind: "public",
    parse: { type: "list" },
    description:
      "Comma list of emails whose accounts get role `admin` once the address is proven by the account's owner: the verification link confirmed inside a signed-in session of that account (the plain link verifies the address but never changes the role), or an outside provider's `email_verified` claim on a plain ASCII address. Never on an unverified email.",
  },
  {
    name: "UNVERIFIED_ACCOUNT_TTL",
    kind: "public",
    parse: { type: "int", default: 86_400, min: 3600, max: 2_592_000 },
    description:
      "Seconds a registration whose address was never proven lives (1 hour to 30 days). After it the account is deleted and its username and address are free again.",
  },
  {
    name: "SUPER_ADMIN_EMAIL",
    kind: "public",
    parse: { type: "list" },
    description: "One more email treated like `ADMIN_EMAILS`: the first operator's account.",
  },
  {
    name: "BOOTSTRAP_ADMIN_EMAIL",
    kind: "public",
    parse: { type: "string" },
    description:
      "The first admin's email, for as long as no account holds the admin role: the account with this address becomes admin under the `ADMIN_EMAILS` rule (its owner confirms the verification link inside the account's own session), and once any admin exists it grants nothing. The alternative to the one-time setup link the first start prints.",
  },
  {
    name: "SMTP_URL",
    kind: "secret",
    parse: { type: "url" },
    docDefault: "none: `.eml` files in `DATA_DIR/outbox`",
    description:
      "`smtps://user:password@host:465` (TLS from the start) or `smtp://user:password@host:587` (STARTTLS required unless the host is local).",
    production: "required, since the outbox is a development fallback",
    secrets: (c) => [c.mail.smtpUrl],
  },
  {
    name: "MAIL_FROM",
    kind: "public",
    parse: { type: "string" },
    docDefault: "`APP_NAME <no-reply@host of PUBLIC_URL>` (`localhost` when that host is an IP address)",
    description: "Sender of every mail.",
  },
  {
    name: "MAIL_TEMPLATES_DIR",
    kind: "public",
    parse: { type: "string" },
    docDefault: "none: the built-in templates",
    description:
      "Directory of mail templates overriding the built-in ones: `<type>.subject.txt`, `<type>.txt`, `<type>.html`, each optional; `{{variable}}` inserts a value, HTML-escaped in `.html` (docs/mail-templates.md). Checked at start.",
  },
  {
    name: "EXTERNAL_JWT_SECRET",
    kind: "secret",
    parse: { type: "string" },
    description:
      "HS256 secret of an outside identity provider (Supabase's JWT secret); its tokens are accepted as bearer tokens. At least 32 bytes.",
    production: "≥ 32 bytes, high entropy",
    secrets: (c) => [c.external?.secret],
  },
  {
    name: "EXTERNAL_JWKS_URL",
    kind: "public",
    parse: { type: "url", http: true },
    description:
      "JWKS URL of an outside identity provider (Auth0, Clerk, Keycloak, Supabase asymmetric keys); RS256, ES256 and EdDSA tokens are accepted.",
    production: "must be https",
  },
  {
    name: "EXTERNAL_JWT_ISSUER",
    kind: "public",
    parse: { type: "string" },
    description: "Required `iss` of outside tokens; needed when either of the two settings above is set.",
  },
  {
    name: "EXTERNAL_JWT_AUDIENCE",
    kind: "public",
    parse: { type: "string" },
    description:
      "Required `aud` of outside tokens (Supabase: `authenticated`); needed when either of the two settings above is set.",
  },
  {
    name: "STRIPE_WEBHOOK_SECRET",
    kind: "secret",
    parse: { type: "list" },
    docDefault: "none",
    description:
      "Stripe endpoint secret (`whsec_…`) for `POST /api/webhooks/stripe`; a comma list while rotating. Unset, the route answers 404.",
    secrets: (c) => c.webhooks.stripeSecrets,
  },
  {
    name: "WEBHOOK_SECRET_*",
    kind: "secret",
    parse: { type: "prefix" },
    description:
      "Standard Webhooks secret (`whsec_` + base64) of a source: `WEBHOOK_SECRET_GITHUB_APP` enables `POST /api/webhooks/github-app` (lower case, `_` becomes `-`); a comma list while rotating.",
    secrets: (c) => Object.values(c.webhooks.sources).flat(),
  },
  {
    name: "WEBHOOK_TIMESTAMP_TOLERANCE",
    kind: "public",
    parse: { type: "int", default: 300, min: 1, max: 86_400 },
    description: "Seconds an inbound webhook's timestamp may lie in the past or the future.",
  },
  {
    name: "WEBHOOK_MAX_BODY_BYTES",
    kind: "public",
    parse: { type: "int", default: 1_048_576, min: 1024, max: 67_108_864 },
    description: "Largest inbound webhook body; larger gets 413.",
  },
  {
    name: "WEBHOOK_ALLOW_PRIVATE_TARGETS",
    kind: "public",
    parse: { type: "bool", default: false },
    description:
      "`true` lets outbound webhook endpoints resolve to loopback, private, link-local or metadata addresses (tests, private networks).",
    production: "must not be true",
  },
  {
    name: "MAX_BODY_BYTES",
    kind: "public",
    parse: { type: "int", default: 1_048_576, min: 1024, max: 1_073_741_824 },
    description: "Largest request body accepted; larger gets 413.",
  },
  {
    name: "FILE_MAX_BYTES",
    kind: "public",
    parse: { type: "int", default: 26_214_400, min: 1, max: 5_368_709_120 },
    description:
      "Largest file `POST /api/files` accepts, in bytes, counted while it streams; larger gets 413 and nothing is kept.",
  },
  {
    name: "FILE_QUOTA_BYTES",
    kind: "public",
    parse: { type: "int", default: 1_073_741_824, min: 0, max: 1_099_511_627_776 },
    description:
      "Bytes of stored files each user may hold (after re-encoding); an upload past it gets 413. Reserved atomically, so concurrent uploads cannot exceed it.",
  },
  {
    name: "FILE_ALLOWED_TYPES",
    kind: "public",
    parse: { type: "string", default: "image/jpeg,image/png,image/gif,image/webp,application/pdf,text/plain" },
    description:
      "Comma list of the types a file's bytes may be. Also known: `image/svg+xml`, `text/html` (never by default; served only as sandboxed attachments).",
    production: "only known types",
  },
  {
    name: "FILE_MAX_PIXELS",
    kind: "public",
    parse: { type: "int", default: 40_000_000, min: 1, max: 268_402_689 },
    description:
      "Largest image (width × height, every frame) decoded for re-encoding; a larger one (a decompression bomb) gets 413 before it is decoded.",
  },
  {
    name: "S3_BUCKET",
    kind: "public",
    parse: { type: "string" },
    docDefault: "none: files on disk under `DATA_DIR/files`",
    description: "Bucket to store files in; setting it switches storage from disk to S3 (or an S3-compatible service).",
  },
  {
    name: "S3_ENDPOINT",
    kind: "public",
    parse: { type: "url", http: true },
    docDefault: "none: AWS",
    description: "Endpoint of an S3-compatible service (MinIO, R2, …); path-style addressing is used when set.",
    production: "must be https",
  },
  {
    name: "S3_REGION",
    kind: "public",
    parse: { type: "string", default: "us-east-1" },
    description: "Region of the bucket.",
  },
  {
    name: "S3_ACCESS_KEY_ID",
    kind: "public",
    parse: { type: "string" },
    docDefault: "none: the SDK's default chain (instance role, …)",
    description: "Access key id for the bucket; needs `S3_SECRET_ACCESS_KEY`.",
  },
  {
    name: "S3_SECRET_ACCESS_KEY",
    kind: "secret",
    parse: { type: "string" },
    description: "Secret of `S3_ACCESS_KEY_ID`.",
    secrets: (c) => [c.files.s3?.secretAccessKey],
  },
  {
    name: "CLAMD_SOCKET",
    kind: "public",
    parse: { type: "string" },
    docDefault: "none: no malware scan",
    description:
      "Path of clamd's Unix socket; when set every stored file is scanned (INSTREAM) and refused when clamd finds something or cannot be reached.",
  },
  {
    name: "OPENAPI_ENABLED",
    kind: "public",
    parse: { type: "enum", values: ["auto", "true", "false"], default: "auto" },
    docDefault: "`auto`: on in development, off in production",
    description: "Serve the OpenAPI 3.1 document of every registered route at `GET /openapi.json`.",
  },
  {
    name: "DOCS_ENABLED",
    kind: "public",
    parse: { type: "enum", values: ["auto", "true", "false"], default: "auto" },
    docDefault: "`auto`: on in development, off in production",
    description:
      "Serve the interactive API reference (Swagger UI, assets served by Bulwark itself) at `GET /docs`; needs `OPENAPI_ENABLED`.",
  },
  {
    name: "UPSTREAM_URL",
    kind: "public",
    parse: { type: "url", http: true },
    docDefault: "none: no gateway",
    description:
      "Gateway mode: the backend Bulwark stands in front of (`http://` or `https://`). Requests matched by a rule of `GATEWAY_RULES` pass Bulwark's protections and are proxied there ([gateway.md](gateway.md)).",
    production: "https, unless the host is loopback or a private address",
  },
  {
    name: "GATEWAY_RULES",
    kind: "public",
    parse: { type: "string" },
    docDefault: "none",
    description:
      "Path of the rules file (YAML or JSON): which path prefixes and methods are proxied, with their auth, rate-limit class, body limit, content types, audit event and CORS. Validated at start; required with `UPSTREAM_URL`.",
  },
  {
    name: "GATEWAY_IDENTITY",
    kind: "public",
    parse: { type: "enum", values: ["headers", "jwt"], default: "headers" },
    description:
      "How the upstream learns who is calling: `headers` (`X-Bulwark-*` signed with `GATEWAY_SECRET`) or `jwt` (a 60-second EdDSA token in `X-Bulwark-Identity`, verifiable with `/.well-known/jwks.json`).",
  },
  {
    name: "GATEWAY_SECRET",
    kind: "secret",
    parse: { type: "string" },
    description: "HMAC-SHA256 key of the `X-Bulwark-Signature` the upstream verifies; at least 32 bytes.",
    production:
      "required with `GATEWAY_IDENTITY=headers`; ≥ 32 bytes, high entropy, not an example, placeholder or published value",
    secrets: (c) => [c.gateway?.secret],
  },
  {
    name: "UPSTREAM_TIMEOUT_MS",
    kind: "public",
    parse: { type: "int", default: 30_000, min: 100, max: 600_000 },
    description:
      "Milliseconds the upstream has to send its response headers, and at most between two chunks of its body; past it the client gets 504.",
  },
  {
    name: "UPSTREAM_CONNECTIONS",
    kind: "public",
    parse: { type: "int", default: 128, min: 1, max: 10_000 },
    description: "Kept-alive connections to the upstream, at most, per instance.",
  },
  {
    name: "MESSAGE_RETENTION_DAYS",
    kind: "public",
    parse: { type: "int", default: 0, min: 0, max: 36_500 },
    description:
      "Days a message is kept before the hourly prune deletes it; 0 keeps messages forever. A conversation's own `retention_days` overrides it.",
  },
  {
    name: "REALTIME_MAX_CONNECTIONS_PER_USER",
    kind: "public",
    parse: { type: "int", default: 5, min: 1, max: 1000 },
    description: "Open WebSockets one user may hold on one instance; the next upgrade gets 429.",
  },
  {
    name: "REALTIME_MAX_CONNECTIONS_PER_IP",
    kind: "public",
    parse: { type: "int", default: 20, min: 1, max: 100_000 },
    description: "Open WebSockets from one client IP on one instance; the next upgrade gets 429.",
  },
  {
    name: "REALTIME_MESSAGES_PER_MINUTE",
    kind: "public",
    parse: { type: "int", default: 60, min: 1, max: 100_000 },
    description:
      "Frames a client may send on one WebSocket per minute; past it each frame gets an `error` frame (`rate_limited`), and past twice the limit the socket is closed with 1008.",
  },
  {
    name: "REALTIME_MAX_BUFFERED_BYTES",
    kind: "public",
    parse: { type: "int", default: 1_048_576, min: 65_536, max: 67_108_864 },
    description:
      "Bytes waiting to be sent to one WebSocket before it counts as a slow consumer and is dropped (memory stays bounded).",
  },
  {
    name: "REALTIME_HEARTBEAT_SECONDS",
    kind: "public",
    parse: { type: "int", default: 30, min: 5, max: 600 },
    description:
      "Interval of the server's WebSocket pings; a client that has not answered the previous ping is disconnected (idle timeout: two intervals).",
  },
  {
    name: "LOG_LEVEL",
    kind: "public",
    parse: { type: "enum", values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"], default: "info" },
    description:
      "pino level; `info` logs one line per request (method, route, status, time, request id — never a secret).",
  },
  {
    name: "PUBLIC_*",
    kind: "public",
    parse: { type: "prefix" },
    description: "Exposed to browsers by `/env.js` and `/api/config/public`, and nothing else is.",
    production: "a value that looks like a secret, or holds a secret setting's value, stops the start",
  },
] as const satisfies readonly Setting[];

export const SETTINGS: readonly Setting[] = TABLE;

/** The secret settings: never logged (their values are scrubbed), never exposed, redacted by `bulwark check`. */
export const SECRET_SETTINGS: readonly SecretSetting[] = SETTINGS.filter(
  (s): s is SecretSetting => s.kind === "secret",
);

/** What a parse kind reads a value as. */
type Parsed<P extends SettingParse> = P extends { type: "int" }
  ? number
  : P extends { type: "bool" }
    ? boolean
    : P extends { type: "enum"; values: readonly (infer V)[] }
      ? V
      : P extends { type: "list" }
        ? string[]
        : P extends { type: "trust-proxy" }
          ? TrustProxy
          : P extends { type: "prefix" }
            ? Record<string, string>
            : P extends { default: string }
              ? string
              : string | undefined;

/** Every setting's parsed value, by setting name. */
export type SettingValues = { [S in (typeof TABLE)[number] as S["name"]]: Parsed<S["parse"]> };

/** The default as the docs show it: the parser's own default when it is a plain value. */
export function documentedDefault(setting: Setting): string {
  if (setting.docDefault !== undefined) return setting.docDefault;
  const parse = setting.parse;
  switch (parse.type) {
    case "string":
      if (parse.devGenerated) return "dev: generated into `DATA_DIR/secrets.json`";
      return parse.default ?? "none";
    case "int":
    case "bool":
    case "enum":
      return String(parse.default);
    case "list":
      return parse.devDefault ? `dev: \`${parse.devDefault.join(",")}\`; production: none` : "empty";
    case "trust-proxy":
      return "false";
    case "url":
    case "prefix":
      return "none";
  }
}
