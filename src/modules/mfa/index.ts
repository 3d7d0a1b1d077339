// The mfa module's public surface: the service, the TOTP helpers and the routes.
import type { FastifyInstance } from "fastify";
import type { CookieJar } from "../sessions/index.js";
import { mfaRoutes } from "./routes.js";
import type { MfaService } from "./service.js";

export { createMfaService, CHALLENGE_TTL_S, MAX_ATTEMPTS, BACKOFF_AFTER, RECOVERY_CODE_COUNT, type MfaService, type MfaDeps, type AccountsPort } from "./service.js";
export { generateTotpSecret, matchTotp, otpauthUrl, totpCode, totpStep, TOTP_DIGITS, TOTP_PERIOD, TOTP_WINDOW } from "./totp.js";

/** The columns this module encrypts with the keyring, for `bulwark keys rotate-encryption`. */
export const ENCRYPTED_COLUMNS = [{ table: "mfa_totp", id: "user_id", column: "secret" }] as const;

/** Registers the mfa routes with the given service. */
export async function mfaPlugin(app: FastifyInstance, options: { mfa: MfaService; jar: CookieJar }): Promise<void> {
  await mfaRoutes(app, options);
}
