// The one place that decides "admin by email": ADMIN_EMAILS and SUPER_ADMIN_EMAIL name addresses
// whose accounts become admins once the address is proven by the account's owner. The rule:
//
// - a verification link grants the role only when it is confirmed inside a signed-in session of the
//   account it was mailed for (whoever registered the address chose that account's password, and
//   the owner of the mailbox clicking the plain link proves the address, not that the account is
//   theirs: the link then verifies the address and leaves the role alone);
// - an operator grants it by command (`bulwark users promote`);
// - an outside provider's token grants it when the provider says the email is verified and the
//   address is plain ASCII.
//
// BOOTSTRAP_ADMIN_EMAIL is one more such address for as long as no account holds the admin role.
//
// Never on an address nobody proved. Addresses are compared only when ASCII: lower-casing is not
// an identity on Unicode (the Kelvin sign U+212A lower-cases to "k", so "\u212Aate@…" would match
// "kate@…"), and a mail server may deliver the look-alike somewhere else entirely.

import type { Config } from "../../config/types.js";
import type { Executor } from "../../store/db.js";
import { anyAdmin } from "./store.js";

const ASCII_EMAIL = /^[\x21-\x7e]+$/;

/** The admin addresses as of now: the configured ones, and `BOOTSTRAP_ADMIN_EMAIL` while no admin exists. */
export async function adminEmailsOf(
  config: Pick<Config, "adminEmails" | "bootstrapAdminEmail">,
  db: Executor,
): Promise<readonly string[]> {
  if (config.bootstrapAdminEmail === undefined || (await anyAdmin(db))) return config.adminEmails;
  return [...config.adminEmails, config.bootstrapAdminEmail];
}

/** Whether an address, as the user or provider spelled it, is one of the configured (lower-cased) admin addresses. */
export function isAdminEmail(adminEmails: readonly string[], email: string): boolean {
  if (!ASCII_EMAIL.test(email)) return false;
  return adminEmails.includes(email.toLowerCase());
}

/**
 * The key an address is unique and looked up by: only the ASCII letters are lower-cased. Unicode
 * case mapping would fold look-alikes (the Kelvin sign, the dotted capital I) into another person's
 * ASCII address, so a provider user spelled "\u212Aate@…" could hold "kate@…" locally.
 */
export function emailKeyOf(email: string): string {
  return email.trim().replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}
