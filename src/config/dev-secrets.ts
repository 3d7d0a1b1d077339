// Development secrets: generated once into DATA_DIR/secrets.json (mode 0600) and reused, so a
// fresh clone starts with strong secrets and no setup. Production never calls this.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyringEntry, randomToken } from "../core/crypto/index.js";
import { secretWeakness } from "./production.js";

export type DevSecrets = Partial<Record<"SECRET_KEY" | "ENCRYPTION_KEYS" | "METRICS_TOKEN", string>>;

/** A random token that production's checks accept (a random value can, very rarely, look like a placeholder). */
function strongToken(): string {
  for (;;) {
    const token = randomToken(32);
    if (!secretWeakness(token)) return token;
  }
}

/** Fresh values for every generated secret, as `bulwark secrets generate` prints them. */
export function generateSecrets(): Required<DevSecrets> {
  return { SECRET_KEY: strongToken(), ENCRYPTION_KEYS: generateKeyringEntry(), METRICS_TOKEN: strongToken() };
}

/** Returns generated values for the secrets the environment lacks, creating or extending the file. */
export function loadDevSecrets(dataDir: string, env: Record<string, string | undefined>): DevSecrets {
  const names = (["SECRET_KEY", "ENCRYPTION_KEYS", "METRICS_TOKEN"] as const).filter((name) => !env[name]);
  if (names.length === 0) return {};
  const file = join(dataDir, "secrets.json");
  const stored: DevSecrets = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as DevSecrets) : {};
  const fresh = generateSecrets();
  let changed = false;
  for (const name of names) {
    if (!stored[name]) {
      stored[name] = fresh[name];
      changed = true;
    }
  }
  if (changed) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Owner-only: these secrets sign tokens and decrypt data, even in development.
    writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return Object.fromEntries(names.map((name) => [name, stored[name]]));
}
