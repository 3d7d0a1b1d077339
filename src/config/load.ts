// Reads settings from the environment and `.env`, validates them, fills development defaults,
// and returns one frozen Config. In production every problem is fatal and all are listed at once.
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { loadDevSecrets } from "./dev-secrets.js";
import { checkConfig } from "./production.js";
import { ConfigError, type Config, type Env, type Problem, type TrustProxy } from "./types.js";

export { ConfigError, type Config, type Env, type TrustProxy } from "./types.js";

/** Every secret value of a configuration (and the passwords inside URLs), for the log scrubber. */
export function secretValues(config: Config): string[] {
  const values = [config.secretKey, config.metricsToken, config.encryptionKeys, ...config.encryptionKeys.split(",").map((e) => e.slice(e.indexOf(":") + 1))];
  values.push(config.external?.secret ?? "", ...config.webhooks.stripeSecrets, ...Object.values(config.webhooks.sources).flat());
  for (const url of [config.databaseUrl, config.redisUrl, config.mail.smtpUrl]) {
    if (!url) continue;
    values.push(url);
    try {
      const password = decodeURIComponent(new URL(url).password);
      if (password) values.push(password);
    } catch {
      // Not a URL: the whole value is already listed.
    }
  }
  return values.filter((v) => v.length > 0);
}

/** Reads `.env` from a directory (no error when absent); the process environment wins over it. */
export function readEnv(cwd = process.cwd(), env: Env = process.env): Env {
  const file = resolve(cwd, ".env");
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, "utf8")) : {};
  return { ...fromFile, ...env };
}

const LOG_LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
const DEV_CORS = ["http://localhost:5173", "http://localhost:3000"];

/** Validates settings and returns the frozen Config, or throws ConfigError listing every problem. */
export function loadConfig(env: Env = readEnv(), options: { generateDevSecrets?: boolean } = {}): Config {
  const problems: Problem[] = [];
  const production = env.NODE_ENV === "production";

  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push({ setting: name, message: `must be a whole number from ${min} to ${max}, got "${raw}"` });
      return fallback;
    }
    return value;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name]?.toLowerCase();
    if (raw === undefined || raw === "") return fallback;
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    problems.push({ setting: name, message: `must be true or false, got "${env[name]}"` });
    return fallback;
  };
  const list = (raw: string | undefined): string[] => (raw ?? "").split(",").map((s) => s.trim()).filter(Boolean);

  const logLevel = env.LOG_LEVEL || "info";
  if (!LOG_LEVELS.has(logLevel)) problems.push({ setting: "LOG_LEVEL", message: `must be one of ${[...LOG_LEVELS].join(", ")}` });

  const dataDir = resolve(env.DATA_DIR || "./data");
  const host = env.HOST || "127.0.0.1";
  const port = int("PORT", 8080, 0, 65535);
  const generated = production || options.generateDevSecrets === false ? {} : loadDevSecrets(dataDir, env);

  const publicEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith("PUBLIC_") && name !== "PUBLIC_URL" && value !== undefined) publicEnv[name] = value;
  }

  const publicUrl = (env.PUBLIC_URL || `http://${host.includes(":") ? `[${host}]` : host}:${port}`).replace(/\/+$/, "");
  const config: Config = {
    production,
    host,
    port,
    publicUrl,
    dataDir,
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    secretKey: env.SECRET_KEY || generated.SECRET_KEY || "",
    encryptionKeys: env.ENCRYPTION_KEYS || generated.ENCRYPTION_KEYS || "",
    metricsToken: env.METRICS_TOKEN || generated.METRICS_TOKEN || "",
    corsOrigins: env.CORS_ORIGINS !== undefined ? list(env.CORS_ORIGINS) : production ? [] : DEV_CORS,
    trustProxy: parseTrustProxy(env.TRUST_PROXY, problems),
    rateLimit: {
      enabled: bool("RATE_LIMIT_ENABLED", true),
      perMinute: int("RATE_LIMIT_PER_MINUTE", 60, 1),
      perHour: int("RATE_LIMIT_PER_HOUR", 1000, 1),
      registerPerMinute: int("AUTH_REGISTER_PER_MINUTE", 5, 1),
      loginPerMinute: int("AUTH_LOGIN_PER_MINUTE", 10, 1),
      sensitivePerMinute: int("SENSITIVE_PER_MINUTE", 10, 1),
    },
    accessTokenTtl: int("ACCESS_TOKEN_TTL", 900, 60, 86_400),
    refreshTokenTtl: int("REFRESH_TOKEN_TTL", 2_592_000, 300, 31_536_000),
    lockoutThreshold: int("LOCKOUT_THRESHOLD", 5, 1, 100),
    password: { minLength: int("PASSWORD_MIN_LENGTH", 12, 8, 128), policy: passwordPolicy(env.PASSWORD_POLICY, problems) },
    maxBodyBytes: int("MAX_BODY_BYTES", 1_048_576, 1024, 1_073_741_824),
    logLevel,
    adminEmails: [...list(env.ADMIN_EMAILS), ...list(env.SUPER_ADMIN_EMAIL)].map((email) => email.toLowerCase()),
    mail: { smtpUrl: env.SMTP_URL || undefined, from: env.MAIL_FROM || `Bulwark <no-reply@${mailHost(publicUrl)}>` },
    external: parseExternal(env, problems),
    webhooks: {
      stripeSecrets: list(env.STRIPE_WEBHOOK_SECRET),
      sources: parseWebhookSources(env, problems),
      timestampTolerance: int("WEBHOOK_TIMESTAMP_TOLERANCE", 300, 1, 86_400),
      maxBodyBytes: int("WEBHOOK_MAX_BODY_BYTES", 1_048_576, 1024, 67_108_864),
      allowPrivateTargets: bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", false),
    },
    publicEnv,
    devSecrets: Object.keys(generated).filter((name) => !env[name]),
    warnings: [],
  };

  const rules = checkConfig(config);
  // Malformed values are fatal everywhere; the production rules only where it matters.
  if (problems.length > 0 || (production && rules.length > 0)) throw new ConfigError([...problems, ...rules]);
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

function parseExternal(env: Env, problems: Problem[]): Config["external"] {
  const secret = env.EXTERNAL_JWT_SECRET || undefined;
  const jwksUrl = env.EXTERNAL_JWKS_URL || undefined;
  if (!secret && !jwksUrl) return undefined;
  const issuer = env.EXTERNAL_JWT_ISSUER ?? "";
  const audience = env.EXTERNAL_JWT_AUDIENCE ?? "";
  // Without both claims pinned, a token the provider issued for another app would be accepted here.
  if (!issuer) problems.push({ setting: "EXTERNAL_JWT_ISSUER", message: "is required with EXTERNAL_JWT_SECRET or EXTERNAL_JWKS_URL (Supabase: https://<project>.supabase.co/auth/v1)" });
  if (!audience) problems.push({ setting: "EXTERNAL_JWT_AUDIENCE", message: "is required with EXTERNAL_JWT_SECRET or EXTERNAL_JWKS_URL (Supabase: authenticated)" });
  if (secret && Buffer.byteLength(secret) < 32) problems.push({ setting: "EXTERNAL_JWT_SECRET", message: "is shorter than 32 bytes: HS256 needs at least 256 bits of key" });
  if (jwksUrl && !/^https?:\/\/[^\s]+$/.test(jwksUrl)) problems.push({ setting: "EXTERNAL_JWKS_URL", message: `"${jwksUrl}" is not an http(s) URL` });
  return { secret, jwksUrl, issuer, audience };
}

const WEBHOOK_PREFIX = "WEBHOOK_SECRET_";

function parseWebhookSources(env: Env, problems: Problem[]): Record<string, string[]> {
  const sources: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(WEBHOOK_PREFIX) || !value) continue;
    const source = name.slice(WEBHOOK_PREFIX.length).toLowerCase().replaceAll("_", "-");
    if (!/^[a-z0-9][a-z0-9-]{0,49}$/.test(source) || source === "stripe") {
      problems.push({ setting: name, message: source === "stripe" ? "Stripe has its own scheme: use STRIPE_WEBHOOK_SECRET" : "the source name must be letters, digits and _ (at most 50)" });
      continue;
    }
    const secrets = value.split(",").map((s) => s.trim()).filter(Boolean);
    // Standard Webhooks secrets are `whsec_` + base64 of the key bytes.
    const bad = secrets.filter((s) => !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(s) || Buffer.from(s.slice(6), "base64").length < 24);
    if (bad.length > 0) problems.push({ setting: name, message: "each secret must be whsec_ followed by the base64 of at least 24 random bytes" });
    else sources[source] = secrets;
  }
  return sources;
}

function passwordPolicy(raw: string | undefined, problems: Problem[]): "nist" | "classes" {
  if (raw === undefined || raw === "" || raw === "nist") return "nist";
  if (raw === "classes") return "classes";
  problems.push({ setting: "PASSWORD_POLICY", message: `must be nist or classes, got "${raw}"` });
  return "nist";
}

function parseTrustProxy(raw: string | undefined, problems: Problem[]): TrustProxy {
  const value = (raw ?? "").trim();
  if (value === "" || value === "false" || value === "0") return false;
  // `true` trusts every hop, which lets any client forge its IP; refuse it rather than guess.
  if (value === "true") {
    problems.push({ setting: "TRUST_PROXY", message: "`true` would let any client choose its IP: list your proxies' addresses or CIDRs (e.g. 10.0.0.0/8), or give their number" });
    return false;
  }
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = entries.filter((entry) => !isProxyAddress(entry));
  if (bad.length > 0) problems.push({ setting: "TRUST_PROXY", message: `not an IP address or CIDR: ${bad.join(", ")}` });
  return entries;
}

/** An IP, a CIDR, or one of proxy-addr's named ranges. */
function isProxyAddress(entry: string): boolean {
  if (["loopback", "linklocal", "uniquelocal"].includes(entry)) return true;
  const [ip = "", prefix] = entry.split("/");
  const version = isIP(ip);
  if (version === 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128));
}
