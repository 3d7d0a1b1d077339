// The deployment rules: in production any of these stops the start; in development they are warnings.
import { parseKeyring } from "../core/crypto/keyring.js";
import { isPublishedSecret } from "./published-secrets.js";
import { SECRET_SETTINGS } from "./settings.js";
import type { Config, Problem } from "./types.js";

export type { Problem } from "./types.js";

/** The types the files pipeline can recognise from bytes (src/modules/files/types.ts keeps the same list). */
export const KNOWN_FILE_TYPES: readonly string[] = [
  "image/jpeg",
  "image/png",
  "image/gif",
  "image/webp",
  "application/pdf",
  "text/plain",
  "image/svg+xml",
  "text/html",
];

const GENERATE = "generate one with `bulwark secrets generate`";

/** Placeholder phrases seen in docs and tutorials: refused wherever they appear in the value. */
const EXAMPLE_PHRASES = [
  "changeme",
  "change-me",
  "change_me",
  "example",
  "your-api-key",
  "your_api_key",
  "yoursecret",
  "your-secret",
  "your_secret",
  "placeholder",
  "replace-me",
  "replace_me",
  "xxxxxxxx",
  "12345678",
];
/** Generic words refused at the start of a value ("secret-123…", "test_key…"); anywhere else they would reject random values now and then. */
const EXAMPLE_PREFIXES = ["secret", "password", "default", "test", "dev", "demo", "sample", "dummy", "insecure"];

/** Bytes a secret setting carries: hex and base64url are decoded, anything else counts as text. */
function secretBytes(value: string): number {
  if (/^[0-9a-fA-F]+$/.test(value) && value.length % 2 === 0) return value.length / 2;
  if (/^[A-Za-z0-9_-]+={0,2}$/.test(value)) return Math.floor((value.replace(/=+$/, "").length * 3) / 4);
  return Buffer.byteLength(value);
}

/** Shannon entropy of the string's characters, in bits for the whole string. */
function entropyBits(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bitsPerChar = 0;
  for (const n of counts.values()) bitsPerChar -= (n / value.length) * Math.log2(n / value.length);
  return bitsPerChar * value.length;
}

/** A string made of one unit repeated ("abcabcabc…") has far less entropy than its histogram suggests. */
function isPeriodic(value: string): boolean {
  return (value + value).indexOf(value, 1) < value.length;
}

/**
 * Whether text reads as generated, not typed: base64 or base64url characters with upper case,
 * lower case and digits all present, no repeating unit, and at least 128 bits by its histogram.
 * Words and phrases ("elopment-key-for-local-use") have no upper case; hex has no prefix word.
 */
function randomLooking(text: string): boolean {
  return (
    /^[A-Za-z0-9+/_-]+=*$/.test(text) &&
    /[A-Z]/.test(text) &&
    /[a-z]/.test(text) &&
    /[0-9]/.test(text) &&
    !isPeriodic(text) &&
    entropyBits(text) >= 128
  );
}

/** Why a secret value is weak, or undefined when it is acceptable. */
export function secretWeakness(value: string): string | undefined {
  if (value === "") return `is missing: ${GENERATE}`;
  // `<output of …>`, `…`, `your key here`: a placeholder copied from the docs instead of a value.
  if (/[<>…\s]/.test(value)) return `is a placeholder, not a value: ${GENERATE}`;
  const lower = value.toLowerCase();
  if (
    EXAMPLE_PHRASES.some((phrase) => lower.includes(phrase)) ||
    // A placeholder word in front ("dev-…", "test123…") marks a hand-made value, unless what follows
    // it is random on its own: a generated value begins with "Dev" about once in 30,000.
    EXAMPLE_PREFIXES.some((word) => lower.startsWith(word) && !randomLooking(value.slice(word.length)))
  ) {
    return `is an example or placeholder value: ${GENERATE}`;
  }
  if (secretBytes(value) < 32) return `is shorter than 32 bytes: ${GENERATE}`;
  if (isPeriodic(value) || entropyBits(value) < 128 || new Set(value).size < 10)
    return `is low in entropy (not random): ${GENERATE}`;
  return undefined;
}

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "::1", "[::1]", ""]);
const STRONG_SSL = new Set(["require", "verify-ca", "verify-full"]);

/** Patterns of values that must never reach a browser through `PUBLIC_*`. */
const SECRET_SHAPES: { pattern: RegExp; what: string }[] = [
  { pattern: /\b(sk|rk)_(live|test)_[A-Za-z0-9]{8,}/, what: "a Stripe secret key" },
  { pattern: /\bwhsec_[A-Za-z0-9+/=]{8,}/, what: "a webhook signing secret" },
  { pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, what: "a private key" },
  { pattern: /\bAKIA[0-9A-Z]{16}\b/, what: "an AWS access key" },
  { pattern: /\b(ghp|gho|ghs|github_pat)_[A-Za-z0-9_]{20,}/, what: "a GitHub token" },
  { pattern: /\bxox[abprs]-[A-Za-z0-9-]{10,}/, what: "a Slack token" },
  { pattern: /\bbwk_[A-Za-z0-9]+_[A-Za-z0-9]{20,}/, what: "a Bulwark API key" },
  { pattern: /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]+@/i, what: "a URL with a password" },
];

/** What a value looks like when it is a secret that must not be public, or undefined. */
export function secretShape(value: string): string | undefined {
  return SECRET_SHAPES.find((s) => s.pattern.test(value))?.what;
}

/** Every rule production enforces; the caller decides whether they are fatal or warnings. */
export function checkConfig(config: Config): Problem[] {
  const problems: Problem[] = [];
  for (const [setting, value] of [
    ["SECRET_KEY", config.secretKey],
    ["METRICS_TOKEN", config.metricsToken],
  ] as const) {
    const weakness = secretWeakness(value);
    if (weakness) problems.push({ setting, message: weakness });
  }
  problems.push(...checkEncryptionKeys(config.encryptionKeys));

  if (!config.publicUrl.startsWith("https://")) {
    problems.push({
      setting: "PUBLIC_URL",
      message: `must be an https URL (got "${config.publicUrl}"): terminate TLS in front of Bulwark and set PUBLIC_URL=https://your.domain`,
    });
  }
  for (const origin of config.corsOrigins) {
    if (origin === "*")
      problems.push({
        setting: "CORS_ORIGINS",
        message:
          "`*` lets every site call the API with the user's credentials: list the exact origins, e.g. https://app.example.com",
      });
    else if (origin === "null")
      problems.push({
        setting: "CORS_ORIGINS",
        message: "`null` is the origin of sandboxed frames and local files, which anyone can produce: remove it",
      });
    else if (!/^https?:\/\/[^/\s]+$/.test(origin))
      problems.push({
        setting: "CORS_ORIGINS",
        message: `"${origin}" is not an origin (scheme://host[:port], no path)`,
      });
    else if (origin.startsWith("http://"))
      problems.push({
        setting: "CORS_ORIGINS",
        message: `"${origin}" is not https: browsers on other networks could be served a forged page from it`,
      });
  }
  if (config.databaseUrl) problems.push(...checkDatabaseUrl(config.databaseUrl));
  for (const [name, value] of Object.entries(config.publicEnv)) {
    const shape = secretShape(value);
    if (shape)
      problems.push({
        setting: name,
        message: `looks like ${shape}; PUBLIC_* settings are sent to every browser: move it to a server-side setting`,
      });
  }
  if (config.external?.secret) {
    const weakness = secretWeakness(config.external.secret);
    if (weakness)
      problems.push({
        setting: "EXTERNAL_JWT_SECRET",
        message: weakness.replace(GENERATE, "copy the provider's JWT secret exactly"),
      });
  }
  if (config.frontendUrl?.startsWith("http://"))
    problems.push({
      setting: "FRONTEND_URL",
      message: "must be https: reset and verification links would travel in the clear",
    });
  for (const url of config.redirectUrls) {
    if (url.startsWith("http://"))
      problems.push({
        setting: "REDIRECT_URLS",
        message: `${url} must be https: a mailed token would travel in the clear`,
      });
  }
  if (config.external?.jwksUrl?.startsWith("http://"))
    problems.push({
      setting: "EXTERNAL_JWKS_URL",
      message: "must be https: keys fetched over http can be swapped by anyone on the path",
    });
  for (const secret of config.webhooks.stripeSecrets) {
    if (!secret.startsWith("whsec_"))
      problems.push({
        setting: "STRIPE_WEBHOOK_SECRET",
        message:
          "each secret starts with whsec_: copy it from the Stripe dashboard (Developers → Webhooks → Signing secret)",
      });
  }
  if (config.webhooks.allowPrivateTargets)
    problems.push({
      setting: "WEBHOOK_ALLOW_PRIVATE_TARGETS",
      message: "outbound webhooks could reach internal services (SSRF): remove the setting",
    });
  if (!config.mail.smtpUrl)
    problems.push({
      setting: "SMTP_URL",
      message:
        "is missing, so mail would only be written to DATA_DIR/outbox: set smtps://user:password@smtp.example.com:465",
    });
  const unknownTypes = config.files.allowedTypes.filter((type) => !KNOWN_FILE_TYPES.includes(type));
  if (unknownTypes.length > 0)
    problems.push({
      setting: "FILE_ALLOWED_TYPES",
      message: `unknown type ${unknownTypes.join(", ")}: the known ones are ${KNOWN_FILE_TYPES.join(", ")}`,
    });
  if (config.files.s3?.endpoint?.startsWith("http://"))
    problems.push({
      setting: "S3_ENDPOINT",
      message: "must be https: file bytes and signed requests would cross the network in clear",
    });
  if (config.gateway?.secret !== undefined) {
    const weakness = secretWeakness(config.gateway.secret);
    if (weakness) problems.push({ setting: "GATEWAY_SECRET", message: weakness });
  }
  // Plain http to the upstream is fine on the same host or a private network (the usual sidecar);
  // across anything else the identity headers and the users' data would travel in clear.
  if (config.gateway?.upstreamUrl.startsWith("http://") && !privateHost(config.gateway.upstreamUrl)) {
    problems.push({
      setting: "UPSTREAM_URL",
      message:
        "must be https unless the upstream is on loopback or a private address (10/8, 172.16/12, 192.168/16, fc00::/7)",
    });
  }
  if (!config.rateLimit.enabled)
    problems.push({
      setting: "RATE_LIMIT_ENABLED",
      message: "rate limiting is off: remove the setting or set it to true",
    });
  problems.push(...checkPublished(config), ...checkPublicEqualsSecret(config));
  return problems;
}

/** Whether a URL's host is a loopback or private IP address, or `localhost`. */
function privateHost(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return false;
  }
  if (host === "localhost" || host === "::1") return true;
  if (/^f[cd][0-9a-f]{2}:/i.test(host)) return true;
  const octets = host.split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o))) return false;
  const [a, b] = octets as [number, number, number, number];
  return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

/** The password inside a URL, decoded; none when there is none or the value is not a URL. */
export function urlPassword(url: string): string[] {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password ? [password] : [];
  } catch {
    // Not a URL: the whole value is already listed.
    return [];
  }
}

/** Each secret setting's values (and the passwords inside URL settings), by the variable that holds them. */
export function secretsBySetting(config: Config): { setting: string; values: string[] }[] {
  return SECRET_SETTINGS.flatMap((setting) => {
    if (setting.parse.type === "prefix") {
      // One variable per source: `github-app` came from WEBHOOK_SECRET_GITHUB_APP.
      return Object.entries(config.webhooks.sources).map(([source, values]) => ({
        setting: `WEBHOOK_SECRET_${source.toUpperCase().replaceAll("-", "_")}`,
        values: [...values],
      }));
    }
    const values = setting.secrets(config).filter((v): v is string => Boolean(v));
    return [
      {
        setting: setting.name,
        values: setting.parse.type === "url" ? [...values, ...values.flatMap(urlPassword)] : values,
      },
    ];
  });
}

/** A secret printed in Bulwark's docs, README or tests is known to everyone, however random it looks. */
function checkPublished(config: Config): Problem[] {
  return secretsBySetting(config)
    .filter(({ values }) => values.some(isPublishedSecret))
    .map(({ setting }) => ({
      setting,
      message: `holds a value published in Bulwark's documentation or tests (anyone can read it): ${GENERATE}`,
    }));
}

/** A `PUBLIC_*` value that is (or contains) a secret's value sends that secret to every browser. */
function checkPublicEqualsSecret(config: Config): Problem[] {
  // Only values long enough to be secrets: a short one would match ordinary text by chance.
  const secrets = secretsBySetting(config).flatMap(({ setting, values }) =>
    values.filter((v) => v.length >= 8).map((value) => ({ setting, value })),
  );
  const problems: Problem[] = [];
  for (const [name, value] of Object.entries(config.publicEnv)) {
    const match = secrets.find((s) => value.includes(s.value));
    if (match)
      problems.push({
        setting: name,
        message: `holds the value of ${match.setting}, a secret: every browser would receive it`,
      });
  }
  return problems;
}

function checkEncryptionKeys(spec: string): Problem[] {
  if (spec === "") return [{ setting: "ENCRYPTION_KEYS", message: `is missing: ${GENERATE}` }];
  try {
    parseKeyring(spec);
  } catch (error) {
    return [{ setting: "ENCRYPTION_KEYS", message: `${(error as Error).message}; ${GENERATE}` }];
  }
  const weak = spec
    .split(",")
    .map((entry) => entry.slice(entry.indexOf(":") + 1))
    .filter((key) => secretWeakness(key));
  return weak.length > 0
    ? [
        {
          setting: "ENCRYPTION_KEYS",
          message: `a key is low in entropy, an example value or a placeholder: ${GENERATE}`,
        },
      ]
    : [];
}

function checkDatabaseUrl(url: string): Problem[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [
      {
        setting: "DATABASE_URL",
        message: "is not a valid URL (postgres://user:password@host:5432/db?sslmode=require)",
      },
    ];
  }
  // The driver takes the last of a repeated parameter (and `host=` over the URL's host), so a URL
  // that reads `sslmode=require` or `db.internal` first could connect in the clear to elsewhere.
  for (const name of ["sslmode", "host"]) {
    if (parsed.searchParams.getAll(name).length > 1) {
      return [
        {
          setting: "DATABASE_URL",
          message: `gives ${name} more than once: give it once (the driver would use the last one)`,
        },
      ];
    }
  }
  const socketHost = parsed.searchParams.get("host");
  if (socketHost !== null && !socketHost.startsWith("/")) {
    return [
      {
        setting: "DATABASE_URL",
        message:
          "has a host= parameter that overrides the URL's host: put the host in the URL (host= is for a Unix socket directory)",
      },
    ];
  }
  const local = LOCAL_HOSTS.has(parsed.hostname) || socketHost !== null;
  const sslmode = parsed.searchParams.get("sslmode") ?? "";
  if (!local && !STRONG_SSL.has(sslmode)) {
    return [
      {
        setting: "DATABASE_URL",
        message: `host ${parsed.hostname} is not local, so the connection must be encrypted: add ?sslmode=verify-full (or require)`,
      },
    ];
  }
  return [];
}
