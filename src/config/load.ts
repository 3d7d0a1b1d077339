// Reads settings from the environment and `.env`, validates them, fills development defaults,
// and returns one frozen Config. In production every problem is fatal and all are listed at once.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { loadDevSecrets } from "./dev-secrets.js";
import { checkConfig, type Problem } from "./production.js";

export type TrustProxy = boolean | number | string[];

export type Config = {
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly redisUrl: string | undefined;
  readonly secretKey: string;
  readonly encryptionKeys: string;
  readonly metricsToken: string;
  readonly corsOrigins: readonly string[];
  readonly trustProxy: TrustProxy;
  readonly rateLimit: {
    readonly enabled: boolean;
    readonly perMinute: number;
    readonly perHour: number;
    readonly registerPerMinute: number;
    readonly loginPerMinute: number;
    readonly sensitivePerMinute: number;
  };
  readonly maxBodyBytes: number;
  readonly logLevel: string;
  /** The `PUBLIC_*` settings, exposed to browsers. */
  readonly publicEnv: Readonly<Record<string, string>>;
  /** Which secrets were generated for development rather than configured. */
  readonly devSecrets: readonly string[];
  /** Problems that production would refuse; in development they are logged as warnings. */
  readonly warnings: readonly Problem[];
};

/** Raised when the configuration cannot be used; `problems` names each setting and its fix. */
export class ConfigError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(`configuration refused:\n${problems.map((p) => `  - ${p.setting}: ${p.message}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export type Env = Record<string, string | undefined>;

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
  const generated = production || options.generateDevSecrets === false ? {} : loadDevSecrets(dataDir, env);

  const publicEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith("PUBLIC_") && name !== "PUBLIC_URL" && value !== undefined) publicEnv[name] = value;
  }

  const config: Config = {
    production,
    host: env.HOST || "127.0.0.1",
    port: int("PORT", 8080, 0, 65535),
    publicUrl: (env.PUBLIC_URL || "http://127.0.0.1:8080").replace(/\/+$/, ""),
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
    maxBodyBytes: int("MAX_BODY_BYTES", 1_048_576, 1024, 1_073_741_824),
    logLevel,
    publicEnv,
    devSecrets: Object.keys(generated).filter((name) => !env[name]),
    warnings: [],
  };

  const rules = checkConfig(config);
  // Malformed values are fatal everywhere; the production rules only where it matters.
  if (problems.length > 0 || (production && rules.length > 0)) throw new ConfigError([...problems, ...rules]);
  return Object.freeze({ ...config, warnings: rules });
}

function parseTrustProxy(raw: string | undefined, problems: Problem[]): TrustProxy {
  const value = (raw ?? "").trim();
  if (value === "" || value === "false" || value === "0") return false;
  // `true` trusts every hop, which lets any client forge its IP; refuse it rather than guess.
  if (value === "true") {
    problems.push({ setting: "TRUST_PROXY", message: "`true` would let any client choose its IP: give the number of proxies in front (e.g. 1) or their addresses" });
    return false;
  }
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}
