// TypeBox schemas of the signin routes.
import { Type } from "typebox";
import { Text } from "../../http/text.js";
import { Password } from "../accounts/index.js";
import { Code } from "../mfa/index.js";

const closed = { additionalProperties: false } as const;

export const LoginBody = Type.Object(
  {
    login: Text({ minLength: 1, maxLength: 254 }),
    password: Password,
    use_cookies: Type.Optional(Type.Boolean()),
    device_token: Type.Optional(Text({ maxLength: 200 })),
  },
  closed,
);

/** Login's answer when the account has two-factor on: no tokens until POST /api/auth/mfa/verify. */
export const MfaRequired = Type.Object(
  {
    mfa_required: Type.Literal(true),
    mfa_token: Type.String(),
    expires_in: Type.Integer(),
  },
  closed,
);

/** Sudo mode: the password, or a code (TOTP or recovery) when two-factor is on. */
export const StepUpBody = Type.Object(
  {
    password: Type.Optional(Password),
    code: Type.Optional(Code),
  },
  closed,
);

export const StepUpResult = Type.Object({ step_up_expires_at: Type.String() }, closed);
