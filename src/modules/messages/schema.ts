// Request and response schemas of the messages module.
import { Type } from "typebox";
import { MultilineText, Text } from "../../http/text.js";
import { MAX_BODY_CHARS } from "./service.js";

const closed = { additionalProperties: false } as const;

export const Id = Type.String({ pattern: "^[0-9a-f]{32}$" });

export const ConversationParams = Type.Object({ id: Id }, closed);
export const MemberParams = Type.Object({ id: Id, user_id: Id }, closed);
export const MessageParams = Type.Object({ id: Id, message_id: Id }, closed);
export const UserParams = Type.Object({ id: Id }, closed);

export const CreateConversationBody = Type.Object(
  {
    type: Type.Union([Type.Literal("direct"), Type.Literal("group")]),
    member_ids: Type.Array(Id, { minItems: 1, maxItems: 100, uniqueItems: true }),
    title: Type.Optional(Text({ minLength: 1, maxLength: 200 })),
    // Days its messages are kept (overrides MESSAGE_RETENTION_DAYS for this conversation).
    retention_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500 })),
  },
  closed,
);

export const AddMemberBody = Type.Object({ user_id: Id }, closed);
// The service checks the body again after NFC normalisation (the WebSocket path has no schema).
export const MessageBody = Type.Object({ body: MultilineText({ minLength: 1, maxLength: MAX_BODY_CHARS }) }, closed);

export const PageQuery = Type.Object(
  {
    cursor: Type.Optional(Id),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  closed,
);
export const HistoryQuery = Type.Object(
  {
    before: Type.Optional(Id),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  closed,
);

export const ConversationView = Type.Object(
  {
    id: Type.String(),
    type: Type.Union([Type.Literal("direct"), Type.Literal("group")]),
    title: Type.Union([Type.String(), Type.Null()]),
    member_ids: Type.Array(Type.String()),
    retention_days: Type.Union([Type.Integer(), Type.Null()]),
    created_at: Type.String(),
  },
  closed,
);
export const ConversationReply = Type.Object({ conversation: ConversationView }, closed);
export const ConversationPage = Type.Object(
  { conversations: Type.Array(ConversationView), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  closed,
);

export const MessageView = Type.Object(
  {
    id: Type.String(),
    conversation_id: Type.String(),
    author_id: Type.String(),
    body: Type.String(),
    created_at: Type.String(),
    edited_at: Type.Union([Type.String(), Type.Null()]),
  },
  closed,
);
export const MessageReply = Type.Object({ message: MessageView }, closed);
export const MessagePage = Type.Object(
  { messages: Type.Array(MessageView), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  closed,
);
