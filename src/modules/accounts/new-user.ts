// A new account's row, the same whichever way the account comes to be (registration, invitation,
// the setup link): the fields given, every other one at its starting value. `bulwark users import`
// writes its rows in bulk SQL instead (import.ts).
import { newId } from "../../core/ids.js";
import { emailKeyOf } from "./admin-email.js";
import type { UserRow } from "./store.js";

export function newUserRow(fields: {
  username: string;
  email: string;
  passwordHash: string;
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
    usernameKey: fields.username.toLowerCase(),
    email: fields.email,
    emailKey: emailKeyOf(fields.email),
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
