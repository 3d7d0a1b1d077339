// Request and response of POST /api/auth/introspect.
import { Type } from "typebox";
import { Text } from "../../http/text.js";

export const IntrospectBody = Type.Object(
  {
    /** An access token (JWT) or an API key. */
    token: Text({ minLength: 1, maxLength: 4096 }),
    /** RFC 7662's hint; the token's form decides anyway. */
    token_type_hint: Type.Optional(Type.Union([Type.Literal("access_token"), Type.Literal("api_key")])),
  },
  { additionalProperties: false },
);

export const IntrospectResponse = Type.Object(
  {
    active: Type.Boolean(),
    token_type: Type.Optional(Type.Union([Type.Literal("access_token"), Type.Literal("api_key")])),
    sub: Type.Optional(Type.String()),
    role: Type.Optional(Type.Union([Type.Literal("user"), Type.Literal("admin")])),
    scope: Type.Optional(Type.String()),
    exp: Type.Optional(Type.Integer()),
    iat: Type.Optional(Type.Integer()),
    session_id: Type.Optional(Type.String()),
    key_id: Type.Optional(Type.String()),
    client_id: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
