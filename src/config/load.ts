// Reads settings from the environment and `.env`, validates them, fills development defaults,
// and returns one frozen Config. In production every problem is fatal and all are listed at once.
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { parseEnv } from "node:util";
import { loadDevSecrets } from "./dev-secrets.js";
import { readSettings } from "./parse.js";
import { checkConfig, secretsBySetting } from "./production.js";
import type { SettingValues } from "./settings.js";
import { ConfigError, type Config, type Env, type Problem } from "./types.js";

export { ConfigError, type Config, type Env, type TrustProxy } from "./types.js";

/** Every secret value of a configuration (and the passwords inside URLs), for the log scrubber. */
export function secretValues(config: Config): string[] {
  return secretsBySetting(config).flatMap(({ values }) => values);
}

/** Reads `.env` from a directory (no error when absent); the process environment wins over it. */
export function readEnv(cwd = process.cwd(), env: Env = process.env): Env {
  const file = resolve(cwd, ".env");
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, "utf8")) : {};
  return { ...fromFile, ...env };
}

/** Validates settings and returns the frozen Config, or throws ConfigError listing every problem. */
export function loadConfig(env: Env = readEnv(), options: { generateDevSecrets?: boolean } = {}): Config {
  const problems: Problem[] = [];
  const production = env.NODE_ENV === "production";
  // Every setting of the table, parsed, by name.
  const v = readSettings(env, production, problems);

  const dataDir = resolve(v.DATA_DIR);
  const generated = production || options.generateDevSecrets === false ? {} : loadDevSecrets(dataDir, env);
  const publicUrl = (v.PUBLIC_URL ?? `http://${v.HOST.includes(":") ? `[${v.HOST}]` : v.HOST}:${v.PORT}`).replace(
    /\/+$/,
    "",
  );
  const config: Config = {
    production,
    host: v.HOST,
    port: v.PORT,
    publicUrl,
    frontendUrl: v.FRONTEND_URL?.replace(/\/+$/, ""),
    redirectUrls: [...(v.FRONTEND_URL ? [v.FRONTEND_URL.replace(/\/+$/, "")] : []), ...v.REDIRECT_URLS],
    appName: v.APP_NAME,
    registration: v.REGISTRATION as Config["registration"],
    dataDir,
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL,
    secretKey: v.SECRET_KEY || generated.SECRET_KEY || "",
    encryptionKeys: v.ENCRYPTION_KEYS || generated.ENCRYPTION_KEYS || "",
    metricsToken: v.METRICS_TOKEN || generated.METRICS_TOKEN || "",
    corsOrigins: v.CORS_ORIGINS,
    trustProxy: v.TRUST_PROXY,
    rateLimit: {
      enabled: v.RATE_LIMIT_ENABLED,
      perMinute: v.RATE_LIMIT_PER_MINUTE,
      perHour: v.RATE_LIMIT_PER_HOUR,
      registerPerMinute: v.AUTH_REGISTER_PER_MINUTE,
      loginPerMinute: v.AUTH_LOGIN_PER_MINUTE,
      sensitivePerMinute: v.SENSITIVE_PER_MINUTE,
      introspectPerMinute: v.INTROSPECT_PER_MINUTE,
    },
    accessTokenTtl: v.ACCESS_TOKEN_TTL,
    refreshTokenTtl: v.REFRESH_TOKEN_TTL,
    lockoutThreshold: v.LOCKOUT_THRESHOLD,
    deviceTokenTtlDays: v.DEVICE_TOKEN_TTL_DAYS,
    stepUpTtl: v.STEP_UP_TTL,
    apiKeysPerUser: v.API_KEYS_PER_USER,
    unverifiedAccountTtl: v.UNVERIFIED_ACCOUNT_TTL,
    password: { minLength: v.PASSWORD_MIN_LENGTH, policy: v.PASSWORD_POLICY },
    maxBodyBytes: v.MAX_BODY_BYTES,
    logLevel: v.LOG_LEVEL,
    adminEmails: [...v.ADMIN_EMAILS, ...v.SUPER_ADMIN_EMAIL].map((email) => email.toLowerCase()),
    bootstrapAdminEmail: v.BOOTSTRAP_ADMIN_EMAIL?.toLowerCase(),
    mail: {
      smtpUrl: v.SMTP_URL,
      templatesDir: v.MAIL_TEMPLATES_DIR ? resolve(v.MAIL_TEMPLATES_DIR) : undefined,
      from: v.MAIL_FROM ?? `${mailName(v.APP_NAME)} <no-reply@${mailHost(publicUrl)}>`,
    },
    external: external(v, problems),
    webhooks: {
      stripeSecrets: v.STRIPE_WEBHOOK_SECRET,
      sources: webhookSources(v["WEBHOOK_SECRET_*"], problems),
      timestampTolerance: v.WEBHOOK_TIMESTAMP_TOLERANCE,
      maxBodyBytes: v.WEBHOOK_MAX_BODY_BYTES,
      allowPrivateTargets: v.WEBHOOK_ALLOW_PRIVATE_TARGETS,
    },
    files: {
      maxBytes: v.FILE_MAX_BYTES,
      quotaBytes: v.FILE_QUOTA_BYTES,
      allowedTypes: v.FILE_ALLOWED_TYPES.split(",")
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean),
      maxPixels: v.FILE_MAX_PIXELS,
      s3: s3Storage(v, problems),
      clamdSocket: v.CLAMD_SOCKET,
    },
    apiDocs: apiDocs(v, production, problems),
    gateway: gateway(v, problems, dataDir),
    messages: { retentionDays: v.MESSAGE_RETENTION_DAYS },
    realtime: {
      maxConnectionsPerUser: v.REALTIME_MAX_CONNECTIONS_PER_USER,
      maxConnectionsPerIp: v.REALTIME_MAX_CONNECTIONS_PER_IP,
      messagesPerMinute: v.REALTIME_MESSAGES_PER_MINUTE,
      maxBufferedBytes: v.REALTIME_MAX_BUFFERED_BYTES,
      heartbeatSeconds: v.REALTIME_HEARTBEAT_SECONDS,
    },
    publicEnv: v["PUBLIC_*"],
    devSecrets: Object.keys(generated).filter((name) => !env[name]),
    warnings: [],
  };

  const rules = checkConfig(config);
  // Who may sign up is a decision: production does not take the development default silently.
  if (production && !env.REGISTRATION?.trim())
    rules.push({
      setting: "REGISTRATION",
      message: "must be set in production: open, invite (only invited addresses) or closed",
    });
  // Malformed values are fatal everywhere; the production rules only where it matters.
  if (production && (problems.length > 0 || rules.length > 0)) throw new ConfigError([...problems, ...rules]);
  // In development only the malformed values are why it stops; the rules stay warnings, told apart.
  if (problems.length > 0) throw new ConfigError(problems, rules);
  return Object.freeze({ ...config, warnings: rules });
}

/** The host part of PUBLIC_URL, for the default sender address (`localhost` for an IP). */
function mailHost(publicUrl: string): string {
  let hostname = "localhost";
  try {
    hostname = new URL(publicUrl).hostname;
  } catch {
    // A malformed PUBLIC_URL is reported by its own check.
  }
  return isIP(hostname.replace(/^\[|\]$/g, "")) === 0 && hostname !== "" ? hostname : "localhost";
}

/** The outside identity provider, when one is configured, and the claims it must pin. */
function external(v: SettingValues, problems: Problem[]): Config["external"] {
  const secret = v.EXTERNAL_JWT_SECRET;
  const jwksUrl = v.EXTERNAL_JWKS_URL;
  if (!secret && !jwksUrl) return undefined;
  const issuer = v.EXTERNAL_JWT_ISSUER ?? "";
  const audience = v.EXTERNAL_JWT_AUDIENCE ?? "";
  // Without both claims pinned, a token the provider issued for another app would be accepted here.
  if (!issuer)
    problems.push({
      setting: "EXTERNAL_JWT_ISSUER",
      message:
        "is required with EXTERNAL_JWT_SECRET or EXTERNAL_JWKS_URL (Supabase: https://<project>.supabase.co/auth/v1)",
    });
  if (!audience)
    problems.push({
      setting: "EXTERNAL_JWT_AUDIENCE",
      message: "is required with EXTERNAL_JWT_SECRET or EXTERNAL_JWKS_URL (Supabase: authenticated)",
    });
  if (secret && Buffer.byteLength(secret) < 32)
    problems.push({
      setting: "EXTERNAL_JWT_SECRET",
      message: "is shorter than 32 bytes: HS256 needs at least 256 bits of key",
    });
  return { secret, jwksUrl, issuer, audience };
}

/** Gateway mode when `UPSTREAM_URL` is set: the rules file is required, and the secret in `headers` mode. */
function gateway(v: SettingValues, problems: Problem[], dataDir: string): Config["gateway"] {
  if (!v.UPSTREAM_URL) {
    if (v.GATEWAY_RULES)
      problems.push({
        setting: "GATEWAY_RULES",
        message: "is set but UPSTREAM_URL is not: set the backend to proxy to, or unset GATEWAY_RULES",
      });
    return undefined;
  }
  // Paths are forwarded as they are, so the upstream is named by its origin alone.
  try {
    const url = new URL(v.UPSTREAM_URL);
    if (url.pathname !== "/" || url.search || url.username || url.password)
      problems.push({
        setting: "UPSTREAM_URL",
        message:
          "must be an origin (scheme://host[:port]) without a path, query or credentials: paths are forwarded as they are",
      });
  } catch {
    // Reported by the URL parser of the settings table.
  }
  if (!v.GATEWAY_RULES)
    problems.push({
      setting: "GATEWAY_RULES",
      message: "is required with UPSTREAM_URL: the path of a YAML or JSON rules file (docs/gateway.md)",
    });
  const secret = v.GATEWAY_SECRET;
  if (v.GATEWAY_IDENTITY === "headers" && !secret)
    problems.push({
      setting: "GATEWAY_SECRET",
      message: "is required with UPSTREAM_URL and GATEWAY_IDENTITY=headers: `bulwark secrets generate` prints one",
    });
  if (secret && Buffer.byteLength(secret) < 32)
    problems.push({ setting: "GATEWAY_SECRET", message: "is shorter than 32 bytes" });
  return {
    upstreamUrl: v.UPSTREAM_URL.replace(/\/+$/, ""),
    // A relative path is read from the working directory, as the shell that started Bulwark sees it.
    rulesFile: v.GATEWAY_RULES ? resolve(v.GATEWAY_RULES) : join(dataDir, "gateway-rules.yaml"),
    identity: v.GATEWAY_IDENTITY,
    secret,
    timeoutMs: v.UPSTREAM_TIMEOUT_MS,
    connections: v.UPSTREAM_CONNECTIONS,
  };
}

/** S3 storage when a bucket is named; a key id and its secret come together or not at all. */
/** OPENAPI_ENABLED and DOCS_ENABLED: `auto` is on in development and off in production. */
function apiDocs(v: SettingValues, production: boolean, problems: Problem[]): Config["apiDocs"] {
  const on = (value: "auto" | "true" | "false") => (value === "auto" ? !production : value === "true");
  const openapi = on(v.OPENAPI_ENABLED);
  const docs = on(v.DOCS_ENABLED);
  // The reference page reads /openapi.json: without it the page would be an empty shell.
  if (docs && !openapi)
    problems.push({
      setting: "DOCS_ENABLED",
      message: "the reference at /docs reads /openapi.json: set OPENAPI_ENABLED=true too, or DOCS_ENABLED=false",
    });
  return { openapi, docs };
}

function s3Storage(v: SettingValues, problems: Problem[]): Config["files"]["s3"] {
  if (!v.S3_BUCKET) return undefined;
  if (Boolean(v.S3_ACCESS_KEY_ID) !== Boolean(v.S3_SECRET_ACCESS_KEY)) {
    problems.push({
      setting: v.S3_ACCESS_KEY_ID ? "S3_SECRET_ACCESS_KEY" : "S3_ACCESS_KEY_ID",
      message:
        "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are set together (or neither, for the SDK's default credentials)",
    });
  }
  return {
    bucket: v.S3_BUCKET,
    endpoint: v.S3_ENDPOINT,
    region: v.S3_REGION,
    accessKeyId: v.S3_ACCESS_KEY_ID,
    secretAccessKey: v.S3_SECRET_ACCESS_KEY,
  };
}

const WEBHOOK_PREFIX = "WEBHOOK_SECRET_";

/** Standard Webhooks sources by name, from the `WEBHOOK_SECRET_*` variables. */
function webhookSources(variables: Record<string, string>, problems: Problem[]): Record<string, string[]> {
  const sources: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(variables)) {
    if (!value) continue;
    const source = name.slice(WEBHOOK_PREFIX.length).toLowerCase().replaceAll("_", "-");
    if (!/^[a-z0-9][a-z0-9-]{0,49}$/.test(source) || source === "stripe") {
      problems.push({
        setting: name,
        message:
          source === "stripe"
            ? "Stripe has its own scheme: use STRIPE_WEBHOOK_SECRET"
            : "the source name must be letters, digits and _ (at most 50)",
      });
      continue;
    }
    const secrets = value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    // Standard Webhooks secrets are `whsec_` + base64 of the key bytes.
    const bad = secrets.filter(
      (s) => !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(s) || Buffer.from(s.slice(6), "base64").length < 24,
    );
    if (bad.length > 0)
      problems.push({
        setting: name,
        message: "each secret must be whsec_ followed by the base64 of at least 24 random bytes",
      });
    else sources[source] = secrets;
  }
  return sources;
}

/** APP_NAME as a mail display name: quoted when it holds anything but letters, digits and spaces. */
function mailName(name: string): string {
  const clean = name.replace(/[\r\n"\\]/g, "");
  return /^[A-Za-z0-9 ]+$/.test(clean) ? clean : `"${clean}"`;
}
