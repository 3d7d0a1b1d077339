// Request and response schemas of the files module.
import { Type } from "typebox";

const closed = { additionalProperties: false } as const;

export const FileId = Type.String({ pattern: "^[0-9a-f]{32}$" });
export const FileParams = Type.Object({ id: FileId }, closed);

export const FileView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    type: Type.String(),
    size: Type.Integer(),
    sha256: Type.String(),
    visibility: Type.Union([Type.Literal("private"), Type.Literal("public")]),
    url: Type.Optional(Type.String()),
    created_at: Type.String(),
  },
  closed,
);

export const FilePage = Type.Object(
  { files: Type.Array(FileView), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  closed,
);

export const ListQuery = Type.Object(
  {
    cursor: Type.Optional(FileId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  closed,
);

export const GetQuery = Type.Object(
  { meta: Type.Optional(Type.Union([Type.Literal("1"), Type.Literal("0")])) },
  closed,
);
