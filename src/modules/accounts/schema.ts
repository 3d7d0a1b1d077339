// Request and response schemas of the accounts module. Every object is closed: a field not listed
// (role, email_verified, plan…) is refused with 400, so no request can mass-assign it.
import { Type } from "typebox";
import { CalendarDate, SecretText, Text } from "../../http/text.js";

const closed = { additionalProperties: false } as const;

export const Username = Type.String({ pattern: "^[A-Za-z0-9_-]{3,50}$" });
export const Email = Type.String({ format: "email", maxLength: 254 });
/** 1–100 characters with no control or format characters (no bidi overrides, no zero-width tricks). */
export const DisplayName = Text({ minLength: 1, maxLength: 100 });
/** Long enough for any passphrase the policy accepts, bounded so a megabyte never reaches the hasher. */
export const Password = SecretText({ minLength: 1, maxLength: 1024 });

export const UserView = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    email: Type.String(),
    email_verified: Type.Boolean(),
    display_name: Type.Union([Type.String(), Type.Null()]),
    birth_date: Type.Union([Type.String(), Type.Null()]),
    role: Type.Union([Type.Literal("user"), Type.Literal("admin")]),
    mfa_enabled: Type.Boolean(),
    plan: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String(),
  },
  closed,
);

export const UserEnvelope = Type.Object({ user: UserView }, closed);

/** Where the mailed link should land instead of the default page; must be under REDIRECT_URLS or FRONTEND_URL. */
export const RedirectTo = Text({ minLength: 1, maxLength: 2048 });

export const RegisterBody = Type.Object(
  {
    username: Username,
    email: Email,
    password: Password,
    display_name: Type.Optional(DisplayName),
    redirect_to: Type.Optional(RedirectTo),
  },
  closed,
);

/** The first admin, made with the setup link; any token string reaches the service, which audits each refusal. */
/** A token Bulwark made (`randomToken(32)`): mailed links and the first admin's setup link. */
const MailToken = Type.String({ pattern: "^[A-Za-z0-9_-]{43}$" });

export const SetupBody = Type.Object(
  { token: MailToken, username: Username, email: Email, password: Password },
  closed,
);

export const PatchMeBody = Type.Object(
  {
    email: Type.Optional(Email),
    display_name: Type.Optional(Type.Union([DisplayName, Type.Null()])),
    birth_date: Type.Optional(Type.Union([CalendarDate(), Type.Null()])),
    current_password: Type.Optional(Password),
    code: Type.Optional(Type.String({ pattern: "^[0-9A-Za-z-]{6,20}$" })),
  },
  closed,
);

export const PasswordBody = Type.Object(
  {
    current_password: Password,
    new_password: Password,
    code: Type.Optional(Type.String({ pattern: "^[0-9A-Za-z-]{6,20}$" })),
  },
  closed,
);

export const UserListQuery = Type.Object(
  {
    q: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
    cursor: Type.Optional(Type.String({ pattern: "^[0-9a-f]{32}$" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  closed,
);

export const UserList = Type.Object(
  { users: Type.Array(UserView), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  closed,
);

export const UserParams = Type.Object({ id: Type.String({ pattern: "^[0-9a-f]{32}$" }) }, closed);

/** A one-time token from a mail: 256 bits in base64url are 43 characters. */
export const VerifyEmailBody = Type.Object({ token: MailToken }, closed);

export const ForgotBody = Type.Object({ email: Email, redirect_to: Type.Optional(RedirectTo) }, closed);

export const ResetBody = Type.Object({ token: MailToken, new_password: Password }, closed);

export const InvitationBody = Type.Object(
  {
    email: Email,
    expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 })),
  },
  closed,
);

export const InvitationView = Type.Object(
  { id: Type.String(), email: Type.String(), created_at: Type.String(), expires_at: Type.String() },
  closed,
);
export const InvitationEnvelope = Type.Object({ invitation: InvitationView }, closed);
export const InvitationList = Type.Object({ invitations: Type.Array(InvitationView) }, closed);
export const InvitationParams = Type.Object({ id: Type.String({ pattern: "^[0-9a-f]{32}$" }) }, closed);

/** The invited person's choice of username and password; the address is the invitation's. */
export const AcceptInvitationBody = Type.Object(
  {
    token: MailToken,
    username: Username,
    password: Password,
    display_name: Type.Optional(DisplayName),
  },
  closed,
);

/** The one body `forgot` ever answers, known address or not. */
export const Accepted = Type.Object({ status: Type.Literal("accepted") }, closed);
