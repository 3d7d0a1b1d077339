// Request and response schemas of the API keys module. No response schema has a field that could
// carry the key except KeyCreated: the serialiser drops anything else, so a list cannot leak it.
import { Type } from "typebox";
import { DateTime, Text } from "../../http/text.js";

const closed = { additionalProperties: false } as const;

/** A scope: lower-case words joined by `:`, `.`, `_` or `-` (`files:read`, `admin`). */
export const Scope = Type.String({ pattern: "^[a-z][a-z0-9_.:-]{0,63}$" });
export const KeyName = Text({ minLength: 1, maxLength: 100 });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const CreateKeyBody = Type.Object(
  {
    name: KeyName,
    scopes: Type.Array(Scope, { maxItems: 32, uniqueItems: true }),
    expires_at: Type.Optional(DateTime()),
    rate_limit_per_minute: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  },
  closed,
);

export const RotateKeyBody = Type.Object(
  {
    // At most 30 days: a grace period is for switching over, not a second life for the old key.
    grace_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_592_000 })),
  },
  closed,
);

export const KeyView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    prefix: Type.String(),
    scopes: Type.Array(Type.String()),
    created_at: Type.String(),
    expires_at: Nullable(Type.String()),
    last_used_at: Nullable(Type.String()),
    rate_limit_per_minute: Nullable(Type.Integer()),
    user_id: Type.String(),
  },
  closed,
);

export const KeyCreated = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    key: Type.String(),
    prefix: Type.String(),
    scopes: Type.Array(Type.String()),
    created_at: Type.String(),
    expires_at: Nullable(Type.String()),
    rate_limit_per_minute: Nullable(Type.Integer()),
    user_id: Type.String(),
    replaces: Type.Optional(Type.Object({ id: Type.String(), expires_at: Type.String() }, closed)),
  },
  closed,
);

export const KeyList = Type.Object({ keys: Type.Array(KeyView) }, closed);

export const KeyParams = Type.Object({ id: Type.String({ pattern: "^[0-9a-f]{32}$" }) }, closed);
