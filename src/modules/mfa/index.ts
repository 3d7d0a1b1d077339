// The mfa module's public surface: the service, the TOTP helpers and the routes.
import { defineModule } from "../module.js";
import { mfaRoutes } from "./routes.js";
import { createMfaService, type MfaService } from "./service.js";

export {
  createMfaService,
  CHALLENGE_TTL_S,
  MAX_ATTEMPTS,
  BACKOFF_AFTER,
  RECOVERY_CODE_COUNT,
  type MfaService,
  type MfaDeps,
} from "./service.js";
export {
  generateTotpSecret,
  matchTotp,
  otpauthUrl,
  totpCode,
  totpStep,
  TOTP_DIGITS,
  TOTP_PERIOD,
  TOTP_WINDOW,
} from "./totp.js";
export { VerifyBody, SetupBody, SetupResult, DisableBody, Code } from "./schema.js";

declare module "../module.js" {
  interface Services {
    mfa: MfaService;
  }
}

const EVENTS = {
  "mfa.totp_setup": {
    description: "A user started TOTP setup (a secret was generated; two-factor stays off until a code confirms it).",
  },
  "mfa.enable": {
    description: "Two-factor was turned on.",
    webhook: { event: "mfa.enabled", results: ["success"] },
    targetIsUser: true,
  },
  "mfa.disable": {
    description: "Two-factor was turned off (by the user, or reset by an operator).",
    webhook: { event: "mfa.disabled", results: ["success"] },
    targetIsUser: true,
  },
  "mfa.challenge": { description: "A right password started a login's second step." },
  "mfa.verify": {
    description: "A second-factor code was checked (the context and the reason of a failure are recorded).",
  },
  "mfa.recovery_code_used": { description: "A recovery code was used up (how many remain is recorded)." },
} as const;

declare module "../audit/vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof EVENTS, true> {}
}

/** Two-factor with TOTP and recovery codes. */
export const mfaModule = defineModule({
  name: "mfa",
  needs: ["accounts"],
  create: (kernel, use) => createMfaService({ ...kernel, accounts: use("accounts") }),
  routes: (app, mfa) => mfaRoutes(app, mfa),
  encryptedColumns: [{ table: "mfa_totp", id: "user_id", column: "secret" }],
  auditEvents: EVENTS,
  // A password reset proves the address: two-factor enrolled before the address was first proven may
  // be a squatter's, and would otherwise ask the owner for the squatter's code. The owner's own stays.
  async onCredentialsRevoked(mfa, tx, userId, why) {
    if (why.reason !== "password_reset") return undefined;
    const count = await mfa.removeUnprovenIn(tx, userId, why.provenAt ?? null);
    return { count, announce: async () => undefined };
  },
});
