// The one schema of Bulwark's settings. Each knows whether it is public or secret, its default, and
// the rule production enforces; docs/configuration.md is generated from this table.

export type SettingKind = "public" | "secret";

export type Setting = {
  name: string;
  kind: SettingKind;
  /** The default as shown in the docs. */
  default: string;
  description: string;
  /** What production demands, in words (the checks are in production.ts). */
  production?: string;
};

export const SETTINGS: readonly Setting[] = [
  { name: "NODE_ENV", kind: "public", default: "development", description: "`production` turns every configuration warning into a refusal to start." },
  { name: "HOST", kind: "public", default: "127.0.0.1", description: "Interface to listen on." },
  { name: "PORT", kind: "public", default: "8080", description: "TCP port to listen on (0 picks a free one)." },
  { name: "PUBLIC_URL", kind: "public", default: "`http://HOST:PORT`", description: "The URL clients reach Bulwark at; token issuer and link base.", production: "must be https" },
  { name: "DATA_DIR", kind: "public", default: "./data", description: "PGlite files, development secrets, development mail outbox, file storage." },
  { name: "DATABASE_URL", kind: "secret", default: "none: PGlite in `DATA_DIR`", description: "`postgres://…` to use PostgreSQL instead of the embedded PGlite.", production: "a non-local host needs `sslmode=require`, `verify-ca` or `verify-full`" },
  { name: "REDIS_URL", kind: "secret", default: "none: in memory", description: "`redis://…`; shared rate-limit counters and cross-instance notifications. Required for more than one instance." },
  { name: "SECRET_KEY", kind: "secret", default: "dev: generated into `DATA_DIR/secrets.json`", description: "At least 32 random bytes (hex or base64url). HMAC key for API keys and tokens.", production: "required; ≥ 32 bytes, high entropy, not an example value" },
  { name: "ENCRYPTION_KEYS", kind: "secret", default: "dev: generated into `DATA_DIR/secrets.json`", description: "`id:base64-32-bytes,…`; the first key encrypts, the rest only decrypt (rotation).", production: "required; every key exactly 32 random bytes" },
  { name: "METRICS_TOKEN", kind: "secret", default: "dev: generated into `DATA_DIR/secrets.json`", description: "Bearer token that `GET /metrics` demands.", production: "required; ≥ 32 bytes, high entropy, not an example value" },
  { name: "CORS_ORIGINS", kind: "public", default: "dev: `http://localhost:5173,http://localhost:3000`; production: none", description: "Comma list of exact origins allowed to call the API from a browser, with credentials.", production: "no `*`, no `null`, https origins only" },
  { name: "TRUST_PROXY", kind: "public", default: "false", description: "`false`, a comma list of proxy addresses or CIDRs (preferred), or a hop count: which `X-Forwarded-For` hops to believe for the client IP. `true` is refused." },
  { name: "RATE_LIMIT_ENABLED", kind: "public", default: "true", description: "Master switch for rate limiting.", production: "must not be false" },
  { name: "RATE_LIMIT_PER_MINUTE", kind: "public", default: "60", description: "Requests per minute per client IP, or per user/key when authenticated. `/health`, `/ready` and `/metrics` are exempt." },
  { name: "RATE_LIMIT_PER_HOUR", kind: "public", default: "1000", description: "Requests per hour, keyed like the per-minute limit." },
  { name: "AUTH_REGISTER_PER_MINUTE", kind: "public", default: "5", description: "Registrations per minute per client IP (`auth-register` class)." },
  { name: "AUTH_LOGIN_PER_MINUTE", kind: "public", default: "10", description: "Login attempts per minute per client IP (`auth-login` class)." },
  { name: "SENSITIVE_PER_MINUTE", kind: "public", default: "10", description: "Calls per minute per principal to routes of the `sensitive` class (key creation, password change…)." },
  { name: "ACCESS_TOKEN_TTL", kind: "public", default: "900", description: "Lifetime of access tokens (JWT), in seconds (60 to 86400)." },
  { name: "REFRESH_TOKEN_TTL", kind: "public", default: "2592000", description: "Absolute lifetime of a session and its refresh tokens, in seconds; rotation never extends it." },
  { name: "LOCKOUT_THRESHOLD", kind: "public", default: "5", description: "Failed logins per login name before exponential back-off (30 s doubling to 1 h), counted whether or not the account exists. A client presenting the device token of an earlier successful login of that account is exempt." },
  { name: "PASSWORD_MIN_LENGTH", kind: "public", default: "12", description: "Minimum password length after NFKC normalisation (8 at the least; the maximum is 128). Common and breached-list passwords and ones containing the username or email are always refused." },
  { name: "PASSWORD_POLICY", kind: "public", default: "nist", description: "`nist` (length and blocklists only), or `classes` to also demand upper case, lower case and a digit." },
  { name: "ADMIN_EMAILS", kind: "public", default: "empty", description: "Comma list of emails whose accounts get role `admin` once the email is verified (by the verification mail, or by an outside provider's `email_verified` claim). Never on an unverified email." },
  { name: "SUPER_ADMIN_EMAIL", kind: "public", default: "empty", description: "One more email treated like `ADMIN_EMAILS`: the first operator's account." },
  { name: "SMTP_URL", kind: "secret", default: "none: `.eml` files in `DATA_DIR/outbox`", description: "`smtps://user:password@host:465` (TLS from the start) or `smtp://user:password@host:587` (STARTTLS required unless the host is local).", production: "required, since the outbox is a development fallback" },
  { name: "MAIL_FROM", kind: "public", default: "`Bulwark <no-reply@host of PUBLIC_URL>` (`localhost` when that host is an IP address)", description: "Sender of every mail." },
  { name: "EXTERNAL_JWT_SECRET", kind: "secret", default: "none", description: "HS256 secret of an outside identity provider (Supabase's JWT secret); its tokens are accepted as bearer tokens. At least 32 bytes.", production: "≥ 32 bytes, high entropy" },
  { name: "EXTERNAL_JWKS_URL", kind: "public", default: "none", description: "JWKS URL of an outside identity provider (Auth0, Clerk, Keycloak, Supabase asymmetric keys); RS256, ES256 and EdDSA tokens are accepted.", production: "must be https" },
  { name: "EXTERNAL_JWT_ISSUER", kind: "public", default: "none", description: "Required `iss` of outside tokens; needed when either of the two settings above is set." },
  { name: "EXTERNAL_JWT_AUDIENCE", kind: "public", default: "none", description: "Required `aud` of outside tokens (Supabase: `authenticated`); needed when either of the two settings above is set." },
  { name: "STRIPE_WEBHOOK_SECRET", kind: "secret", default: "none", description: "Stripe endpoint secret (`whsec_…`) for `POST /api/webhooks/stripe`; a comma list while rotating. Unset, the route answers 404." },
  { name: "WEBHOOK_SECRET_*", kind: "secret", default: "none", description: "Standard Webhooks secret (`whsec_` + base64) of a source: `WEBHOOK_SECRET_GITHUB_APP` enables `POST /api/webhooks/github-app` (lower case, `_` becomes `-`); a comma list while rotating." },
  { name: "WEBHOOK_TIMESTAMP_TOLERANCE", kind: "public", default: "300", description: "Seconds an inbound webhook's timestamp may lie in the past or the future." },
  { name: "WEBHOOK_MAX_BODY_BYTES", kind: "public", default: "1048576", description: "Largest inbound webhook body; larger gets 413." },
  { name: "WEBHOOK_ALLOW_PRIVATE_TARGETS", kind: "public", default: "false", description: "`true` lets outbound webhook endpoints resolve to loopback, private, link-local or metadata addresses (tests, private networks).", production: "must not be true" },
  { name: "MAX_BODY_BYTES", kind: "public", default: "1048576", description: "Largest request body accepted; larger gets 413." },
  { name: "LOG_LEVEL", kind: "public", default: "info", description: "pino level; `info` logs one line per request (method, route, status, time, request id — never a secret)." },
  { name: "PUBLIC_*", kind: "public", default: "none", description: "Exposed to browsers by `/env.js` and `/api/config/public`, and nothing else is.", production: "a value that looks like a secret stops the start" },
];

/** Names of the secret settings: never logged, never exposed, redacted by `bulwark check`. */
export const SECRET_SETTINGS = new Set(SETTINGS.filter((s) => s.kind === "secret").map((s) => s.name));
