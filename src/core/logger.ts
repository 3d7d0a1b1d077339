// JSON logs (pino) that never carry a credential: sensitive field names are blanked at any depth,
// and the values of secret settings are scrubbed from every line as a second line of defence.
import { pino, type DestinationStream, type Logger } from "pino";
import { carriesSqlValues, scrubSqlParams, withoutSqlValues } from "./db-errors.js";

export type { Logger } from "pino";

/** Field names whose values are replaced with "[redacted]" wherever they appear in a logged object. */
export const SENSITIVE_FIELDS = new Set([
  "authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "x-csrf-token",
  "stripe-signature",
  "webhook-signature",
  "password",
  "new_password",
  "current_password",
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "mfa_token",
  "device_token",
  "secret",
  "client_secret",
  "api_key",
  "apikey",
  "key",
  "private_key",
  "code",
  "recovery_code",
  "secretkey",
  "encryptionkeys",
  "metricstoken",
  "databaseurl",
  "redisurl",
]);

const MAX_DEPTH = 8;

/**
 * Returns `value` with sensitive fields blanked, copying only the objects that contain one. A log
 * line of plain values (the per-request line) costs a key lookup per field and no allocation —
 * pino's path-based redaction with wildcards cost more than the rest of the request pipeline.
 */
export function redact(value: unknown, depth = 0): unknown {
  // A failed query's values (an email, a password hash) stay out of the log, as an error or as its message.
  if (typeof value === "string") return scrubSqlParams(value);
  if (value instanceof Error) return carriesSqlValues(value) ? withoutSqlValues(value) : value;
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = redact(value[i], depth + 1);
      if (item !== value[i]) (copy ??= [...value])[i] = item;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const [name, item] of Object.entries(value)) {
    const next = SENSITIVE_FIELDS.has(name.toLowerCase()) ? "[redacted]" : redact(item, depth + 1);
    if (next !== item) (copy ??= { ...(value as Record<string, unknown>) })[name] = next;
  }
  return copy ?? value;
}

export type LoggerOptions = {
  level: string;
  /** Secret values (settings) that must never appear in a log line, whatever field they hide in. */
  secrets?: string[];
  destination?: DestinationStream;
};

/** Creates the process logger: JSON lines, redacted, with secret values scrubbed. */
export function createLogger(options: LoggerOptions): Logger {
  // Only values long enough to be secrets: scrubbing a 3-character string would mangle every line.
  const secrets = [...new Set(options.secrets ?? [])].filter((s) => s.length >= 8).sort((a, b) => b.length - a.length);
  return pino(
    {
      level: options.level,
      base: undefined,
      formatters: { log: (object) => redact(object) as Record<string, unknown> },
      hooks:
        secrets.length === 0
          ? {}
          : {
              streamWrite: (line) => {
                let out = line;
                for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join("[redacted]");
                return out;
              },
            },
    },
    options.destination ?? logDestination(1),
  );
}

/**
 * Where the process logger writes by default (standard output), and the bench's /dev/null: lines
 * are written in batches of 2-4 KiB, and at least every 250 ms. A write per line cost more than the
 * rest of logging (bench: 19.7k -> 22.8k req/s). Larger batches cost more per line: SonicBoom
 * measures the byte length of its pending batch on every line, which copies it whole
 * (bench/log-line.ts: 3.6-3.7 µs a line with 8-16 KiB batches, 2.4-2.9 with these). pino flushes
 * the rest at exit.
 */
export function logDestination(dest: number | string): ReturnType<typeof pino.destination> {
  return pino.destination({ dest, sync: false, minLength: 2048, maxWrite: 4096, periodicFlush: 250 });
}
