// The accounts module's public surface: the owner of the `users` table.
import { defineModule } from "../module.js";
import { accountRoutes } from "./routes.js";
import { createAccountService, type AccountService } from "./service.js";

export {
  createAccountService,
  userView,
  type AccountService,
  type UserView,
  type LoginCandidate,
  type Prove,
} from "./service.js";
export { emailKeyOf, isAdminEmail } from "./admin-email.js";
export {
  ImportRaceError,
  type ImportOptions,
  type ImportProgress,
  type ImportReject,
  type ImportReport,
  type ImportRow,
} from "./import.js";
export { checkPassword, normalizePassword } from "./password-policy.js";
export { Password, UserEnvelope, PatchMeBody, PasswordBody } from "./schema.js";

declare module "../module.js" {
  interface Services {
    accounts: AccountService;
  }
}

const EVENTS = {
  "user.register": {
    description: "An account was registered.",
    webhook: { event: "user.created", results: ["success"] },
    targetIsUser: true,
  },
  "user.import": {
    description:
      "An operator imported accounts with their password hashes (`bulwark users import`): one event a run, with the counts (imported, unchanged, rejected, admins, verified, disabled) and the first admins' ids.",
  },
  "user.update": { description: "A user changed their profile (the field names are recorded, never the values)." },
  "user.disabled": {
    description: "An admin or operator disabled an account; its sessions and keys ended.",
    webhook: { event: "user.disabled", results: ["success"] },
    targetIsUser: true,
  },
  "user.enabled": { description: "An admin or operator enabled an account again." },
  "user.promote": { description: "An account was given the admin role." },
  "user.demote": { description: "An admin took the admin role from an account (never the last admin's)." },
  "password.changed": {
    description: "A user changed their password; their other sessions ended.",
    webhook: { event: "password.changed", results: ["success"] },
    targetIsUser: true,
  },
  "password.reset_request": { description: "Someone asked for a reset link (the outcome says whether one was sent)." },
  "password.reset": {
    description: "A password was set with a reset link; every session ended.",
    webhook: { event: "password.reset", results: ["success"] },
    targetIsUser: true,
  },
  "email.verify_request": { description: "A user asked for a new verification link." },
  "email.change_undone": {
    description: "An email change was undone with the link mailed to the old address; every session ended.",
    webhook: { event: "email.change_undone", results: ["success"] },
    targetIsUser: true,
  },
  "email.verified": {
    description:
      "An address was proven by its link, or marked proven by an operator; the admin role is granted only for an admin address confirmed inside the account's own session (`role_granted`, `in_session`).",
  },
  "user.expired": {
    description:
      "A registration whose address was never proven outlived UNVERIFIED_ACCOUNT_TTL and was deleted, freeing its username and address.",
  },
  "admin.setup_link": {
    description: "The server made a one-time setup link for the first admin (its expiry; never the link).",
  },
  "admin.setup": {
    description:
      "The setup link created the first admin (success), or a use of it was refused (`reason`: no_link, wrong_token, expired, admin_exists).",
  },
  "invitation.create": { description: "An admin invited an address (the address and the expiry; never the link)." },
  "invitation.revoke": { description: "An admin ended a pending invitation." },
  "invitation.accept": { description: "An invitation's link created an account (the invitation is used up)." },
} as const;

declare module "../audit/vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof EVENTS, true> {}
}

/** Users: registration, profile, verification and reset, and the admin views. */
export const accountsModule = defineModule({
  name: "accounts",
  needs: [],
  create: (kernel) => createAccountService(kernel),
  routes: (app, accounts) => accountRoutes(app, accounts),
  auditEvents: EVENTS,
  start: (accounts) => accounts.start(),
  // Registrations nobody confirmed stop holding their address (registering it again also reclaims it at once).
  prune: async (accounts) => ({
    unverified_accounts: await accounts.pruneUnverified(),
    invitations: await accounts.invitations.prune(),
  }),
});
