// The configuration's types, apart from the code that builds or checks one, so that load.ts,
// production.ts and settings.ts can all import them without importing each other.

/** A setting that cannot be used, and how to fix it. */
export type Problem = { setting: string; message: string };

export type Env = Record<string, string | undefined>;

export type TrustProxy = boolean | number | string[];

export type Config = {
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  /** Where the links in mails land (FRONTEND_URL); undefined: Bulwark's built-in pages at publicUrl. */
  readonly frontendUrl: string | undefined;
  /** URL prefixes a `redirect_to` may start with (REDIRECT_URLS, and FRONTEND_URL when set). */
  readonly redirectUrls: readonly string[];
  /** Who may sign up (REGISTRATION). */
  readonly registration: "open" | "invite" | "closed";
  /** The product's name in mails, pages and the TOTP issuer (APP_NAME). */
  readonly appName: string;
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
    readonly introspectPerMinute: number;
  };
  readonly accessTokenTtl: number;
  readonly refreshTokenTtl: number;
  readonly lockoutThreshold: number;
  /** Days a device token is valid (`DEVICE_TOKEN_TTL_DAYS`). */
  readonly deviceTokenTtlDays: number;
  /** Seconds a step-up lets its session create API keys (`STEP_UP_TTL`). */
  readonly stepUpTtl: number;
  /** Live API keys a user may hold (`API_KEYS_PER_USER`). */
  readonly apiKeysPerUser: number;
  /** Seconds a never-verified registration holds its username and address (`UNVERIFIED_ACCOUNT_TTL`). */
  readonly unverifiedAccountTtl: number;
  readonly password: { readonly minLength: number; readonly policy: "nist" | "classes" };
  readonly maxBodyBytes: number;
  readonly logLevel: string;
  /** Lower-cased emails that get role `admin` once verified (`ADMIN_EMAILS` plus `SUPER_ADMIN_EMAIL`). */
  readonly adminEmails: readonly string[];
  /** Lower-cased `BOOTSTRAP_ADMIN_EMAIL`: treated like `adminEmails` only while no admin exists. */
  readonly bootstrapAdminEmail: string | undefined;
  readonly mail: {
    readonly smtpUrl: string | undefined;
    readonly from: string;
    readonly templatesDir: string | undefined;
  };
  /** An outside identity provider whose bearer tokens are accepted; undefined when none is configured. */
  readonly external:
    | {
        readonly secret: string | undefined;
        readonly jwksUrl: string | undefined;
        readonly issuer: string;
        readonly audience: string;
      }
    | undefined;
  readonly webhooks: {
    /** `STRIPE_WEBHOOK_SECRET`, split: any of them may sign. */
    readonly stripeSecrets: readonly string[];
    /** Standard Webhooks sources (`WEBHOOK_SECRET_<SOURCE>`, lower case, `_` as `-`) and their secrets. */
    readonly sources: Readonly<Record<string, readonly string[]>>;
    readonly timestampTolerance: number;
    readonly maxBodyBytes: number;
    readonly allowPrivateTargets: boolean;
  };
  readonly files: {
    readonly maxBytes: number;
    readonly quotaBytes: number;
    /** MIME types a file's bytes may be (`FILE_ALLOWED_TYPES`), lower case. */
    readonly allowedTypes: readonly string[];
    readonly maxPixels: number;
    /** S3 storage; undefined: files on disk under `DATA_DIR/files`. */
    readonly s3:
      | {
          readonly bucket: string;
          readonly endpoint: string | undefined;
          readonly region: string;
          readonly accessKeyId: string | undefined;
          readonly secretAccessKey: string | undefined;
        }
      | undefined;
    readonly clamdSocket: string | undefined;
  };
  /** Whether `GET /openapi.json` and `GET /docs` are served. */
  readonly apiDocs: { readonly openapi: boolean; readonly docs: boolean };
  /** Gateway mode: the upstream behind Bulwark and how it learns the caller; undefined without `UPSTREAM_URL`. */
  readonly gateway:
    | {
        readonly upstreamUrl: string;
        readonly rulesFile: string;
        readonly identity: "headers" | "jwt";
        readonly secret: string | undefined;
        readonly timeoutMs: number;
        readonly connections: number;
      }
    | undefined;
  readonly messages: { readonly retentionDays: number };
  readonly realtime: {
    readonly maxConnectionsPerUser: number;
    readonly maxConnectionsPerIp: number;
    readonly messagesPerMinute: number;
    readonly maxBufferedBytes: number;
    readonly heartbeatSeconds: number;
  };
  /** The `PUBLIC_*` settings, exposed to browsers. */
  readonly publicEnv: Readonly<Record<string, string>>;
  /** Which secrets were generated for development rather than configured. */
  readonly devSecrets: readonly string[];
  /** Problems that production would refuse; in development they are logged as warnings. */
  readonly warnings: readonly Problem[];
};

/** Raised when the configuration cannot be used; `problems` names each setting and its fix. */
export class ConfigError extends Error {
  /** What stops the start. */
  readonly problems: Problem[];
  /** In development: the production rules also broken, which did not stop the start (shown apart). */
  readonly warnings: Problem[];
  constructor(problems: Problem[], warnings: Problem[] = []) {
    super(`configuration refused:\n${problems.map((p) => `  - ${p.setting}: ${p.message}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
    this.warnings = warnings;
  }
}
