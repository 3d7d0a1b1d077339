// Response schemas of the health, readiness and metrics routes.
import { Type } from "typebox";

export const Health = Type.Object({ status: Type.Literal("ok") }, { additionalProperties: false });

export const Ready = Type.Object(
  {
    status: Type.Union([Type.Literal("ok"), Type.Literal("degraded"), Type.Literal("unavailable")]),
    checks: Type.Object(
      {
        database: Type.Union([Type.Literal("ok"), Type.Literal("down")]),
        cache: Type.Union([Type.Literal("ok"), Type.Literal("degraded")]),
        /** Gateway mode only: whether the upstream answers. */
        upstream: Type.Optional(Type.Union([Type.Literal("ok"), Type.Literal("down")])),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
