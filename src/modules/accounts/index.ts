// The accounts module's public surface.
import type { FastifyInstance } from "fastify";
import type { CookieJar, SessionService } from "../sessions/index.js";
import { accountRoutes } from "./routes.js";
import type { AccountService } from "./service.js";

export { createAccountService, userView, HOURLY_FAILURE_CAP, type AccountService, type UserView, type AccountConfig, type CredentialRevoker } from "./service.js";
export { checkPassword, normalizePassword } from "./password-policy.js";

/** Registers the accounts routes with the given services. */
export async function accountsPlugin(app: FastifyInstance, options: { accounts: AccountService; sessions: SessionService; jar: CookieJar }): Promise<void> {
  await accountRoutes(app, options);
}
