// JSON logs (pino) that never carry a credential: known fields are redacted by path, and the
// values of secret settings are scrubbed from every line as a second line of defence.
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

/** Field paths whose values are replaced with "[redacted]" wherever they appear in a log object. */
export const REDACT_PATHS = [
  "authorization", "cookie", "password", "token", "secret", "api_key", "key",
  "*.authorization", "*.cookie", "*.password", "*.new_password", "*.current_password", "*.token",
  "*.access_token", "*.refresh_token", "*.secret", "*.api_key", "*.key", "*.mfa_token",
  "*.headers.authorization", "*.headers.cookie", "*.headers[\"x-api-key\"]", "*.headers[\"set-cookie\"]",
  "*.headers[\"stripe-signature\"]", "*.headers[\"webhook-signature\"]", "*.headers[\"x-csrf-token\"]",
  "*[\"x-api-key\"]", "*.secretKey", "*.encryptionKeys", "*.metricsToken", "*.databaseUrl", "*.redisUrl",
];

export type LoggerOptions = {
  level: string;
  /** Secret values (settings) that must never appear in a log line, whatever field they hide in. */
  secrets?: string[];
  destination?: DestinationStream;
};

/** Creates the process logger: JSON lines, redacted, with secret values scrubbed. */
export function createLogger(options: LoggerOptions): Logger {
  // Only values long enough to be real secrets: scrubbing a 3-character string would mangle logs.
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 16);
  return pino(
    {
      level: options.level,
      base: undefined,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      hooks: secrets.length === 0 ? {} : {
        streamWrite: (line) => {
          let out = line;
          for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join("[redacted]");
          return out;
        },
      },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
