// Request and response schemas of the mfa module.
import { Type } from "typebox";
import { SecretText } from "../../http/text.js";

const closed = { additionalProperties: false } as const;

const Password = SecretText({ minLength: 1, maxLength: 1024 });
/** A 6-digit TOTP code, or a recovery code (`xxxxx-xxxxx`, dashes and case optional). */
export const Code = Type.String({ pattern: "^[0-9A-Za-z-]{6,20}$" });

export const SetupBody = Type.Object({ password: Password }, closed);
export const SetupResult = Type.Object(
  { secret: Type.String(), otpauth_url: Type.String(), qr_svg: Type.String() },
  closed,
);
export const EnableBody = Type.Object({ code: Type.String({ pattern: "^[0-9]{6}$" }) }, closed);
export const EnableResult = Type.Object({ recovery_codes: Type.Array(Type.String()) }, closed);
export const DisableBody = Type.Object({ password: Password, code: Code }, closed);
export const VerifyBody = Type.Object(
  { mfa_token: Type.String({ pattern: "^[A-Za-z0-9_-]{43}$" }), code: Code },
  closed,
);
