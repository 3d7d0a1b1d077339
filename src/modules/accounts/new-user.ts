// A new account's row, the same whichever way the account comes to be (registration, invitation,
// the setup link, an outside identity provider): the fields given, every other one at its starting value. `bulwark users import`
// writes its rows in bulk SQL instead (import.ts).
import { newId } from "../../core/ids.js";
import { emailKeyOf } from "./admin-email.js";
import type { UserRow } from "./store.js";

/** The keys a username and an address are unique by (case-folded; the address as emailKeyOf reads it). */
export function accountKeys(username: string, email: string): { usernameKey: string; emailKey: string } {
  return { usernameKey: username.toLowerCase(), emailKey: emailKeyOf(email) };
}

export function newUserRow(fields: {
  username: string;
  email: string;
  /** Null for an account of an outside identity provider: it never signs in by password. */
  passwordHash: string | null;
  now: Date;
  role: UserRow["role"];
  /** True only when the address was proven on the way in (an invitation's mailed link). */
  emailVerified: boolean;
  displayName?: string | null | undefined;
}): UserRow {
  const { now, emailVerified } = fields;
  return {
    id: newId(now.getTime()),
    username: fields.username,
    email: fields.email,
    ...accountKeys(fields.username, fields.email),
    emailVerified,
    firstVerifiedAt: emailVerified ? now : null,
    passwordHash: fields.passwordHash,
    displayName: fields.displayName ?? null,
    birthDate: null,
    role: fields.role,
    plan: null,
    mfaEnabled: false,
    disabledAt: null,
    createdAt: now,
    updatedAt: now,
  };
}
