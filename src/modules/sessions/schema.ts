// Request and response schemas of the sessions module.
import { Type } from "typebox";
import { Text } from "../../http/text.js";

const closed = { additionalProperties: false } as const;

/** The token pair (docs/identity.md); in cookie mode the tokens travel only in HttpOnly cookies, not here. */
export const TokenPair = Type.Object(
  {
    access_token: Type.Optional(Type.String()),
    token_type: Type.Literal("Bearer"),
    expires_in: Type.Integer(),
    refresh_token: Type.Optional(Type.String()),
    session_id: Type.String(),
    device_token: Type.Optional(Type.String()),
  },
  closed,
);

export const RefreshBody = Type.Object(
  {
    refresh_token: Type.Optional(Text({ minLength: 1, maxLength: 200 })),
    use_cookies: Type.Optional(Type.Boolean()),
  },
  closed,
);

export const SessionView = Type.Object(
  {
    id: Type.String(),
    created_at: Type.String(),
    last_used_at: Type.String(),
    ip: Type.Union([Type.String(), Type.Null()]),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    current: Type.Boolean(),
  },
  closed,
);

export const SessionList = Type.Object({ sessions: Type.Array(SessionView) }, closed);

export const SessionParams = Type.Object({ id: Text({ minLength: 1, maxLength: 64 }) }, closed);

/** A user id in a path (the admin's "end every session of this user"). */
export const UserSessionsParams = Type.Object({ id: Type.String({ pattern: "^[0-9a-f]{32}$" }) }, closed);

export const Whoami = Type.Object(
  {
    principal: Type.Object(
      {
        type: Type.Union([Type.Literal("user"), Type.Literal("api_key"), Type.Literal("external")]),
        user_id: Type.String(),
        key_id: Type.Optional(Type.String()),
        session_id: Type.Optional(Type.String()),
        role: Type.Union([Type.Literal("user"), Type.Literal("admin")]),
        scopes: Type.Optional(Type.Array(Type.String())),
      },
      closed,
    ),
  },
  closed,
);
