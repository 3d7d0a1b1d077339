// The signin module: login with lockout and device tokens, its second step, and the step-up that
// sensitive changes demand. It owns the failed-login counters.
import { defineModule } from "../module.js";
import { signInRoutes } from "./routes.js";
import { createSignInService, type SignInService } from "./service.js";

export {
  createSignInService,
  HOURLY_FAILURE_CAP,
  type SignInService,
  type LoginResult,
  type MfaChallenge,
  type SignedInResult,
} from "./service.js";

declare module "../module.js" {
  interface Services {
    signin: SignInService;
  }
}

const EVENTS = {
  "auth.login": {
    description: "A login: success (the session), failure (the reason, never the password), or denied (locked).",
  },
  "auth.step_up": {
    description:
      "A user proved themselves again in a session (password or code): success, failure (counted like a failed login) or denied (locked).",
  },
  "auth.lockout": {
    description: "Failed logins put a login name into back-off.",
    webhook: { event: "auth.lockout", results: ["success", "denied"] },
  },
} as const;

declare module "../audit/vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof EVENTS, true> {}
}

/** Sign-in: needs who the user is, their second factor, and the sessions a sign-in makes. */
export const signInModule = defineModule({
  name: "signin",
  needs: ["accounts", "mfa", "sessions"],
  create: (kernel, use) => createSignInService(kernel, use("accounts"), use("mfa"), use("sessions")),
  routes: (app, signin, use) => signInRoutes(app, signin, use("accounts"), use("mfa"), use("sessions").jar),
  auditEvents: EVENTS,
  // A completed password reset proves the owner is back: the back-off on their names ends, and
  // every device token issued before it (perhaps to whoever held the account) stops exempting.
  async onCredentialsRevoked(signin, tx, userId, why) {
    if (why.reason === "password_reset") {
      await signin.clearLockout(tx, userId);
      await signin.forgetDevices(tx, userId);
    }
    return undefined;
  },
  prune: async (signin) => ({ login_failures: await signin.pruneLoginFailures() }),
});
