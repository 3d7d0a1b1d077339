// The one place that decides "admin by email": ADMIN_EMAILS and SUPER_ADMIN_EMAIL name addresses
// whose accounts become admins once the address is proven (by the verification mail, or by an
// outside provider's email_verified claim). Never on an address nobody proved.

/** Whether a lower-cased address is one of the configured admin addresses. */
export function isAdminEmail(adminEmails: readonly string[], emailKey: string): boolean {
  return adminEmails.includes(emailKey);
}
