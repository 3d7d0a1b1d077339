// The messages module's public surface: conversations, members, messages sealed at rest, blocks.
// docs/messages.md describes the API, the encryption, rotation, retention and the Fernet import.
import { defineModule } from "../module.js";
import { messageRoutes } from "./routes.js";
import { createMessagesService, type MessagesService } from "./service.js";

export {
  bodyContext,
  cleanBody,
  createMessagesService,
  MAX_BODY_CHARS,
  type MessageEvent,
  type MessagesService,
  type MessageView,
} from "./service.js";

declare module "../module.js" {
  interface Services {
    messages: MessagesService;
  }
}

const EVENTS = {
  "conversation.create": { description: "A user started a conversation (its type and member count)." },
  "conversation.member_add": { description: "A member added a user to a group conversation." },
  "conversation.member_remove": { description: "A member left a group, or its creator removed someone." },
  "message.edit": { description: "A user edited their message (its id and conversation; never the text)." },
  "message.delete": { description: "A user deleted their message (its id and conversation; never the text)." },
  "message.import": { description: "An operator imported messages from a Fernet-encrypting backend (counts only)." },
  "user.block": { description: "A user blocked another (target: the blocked user)." },
  "user.unblock": { description: "A user lifted a block." },
} as const;

declare module "../audit/vocabulary.js" {
  interface AuditEventTypes extends Record<keyof typeof EVENTS, true> {}
}

/** Messages: direct and group conversations, bodies AES-256-GCM at rest, keyset history, blocks, retention. */
export const messagesModule = defineModule({
  name: "messages",
  needs: ["accounts"],
  create: ({ db, clock, audit, keyring, config }, use) =>
    createMessagesService({
      db,
      clock,
      audit,
      keyring,
      accounts: use("accounts"),
      retentionDays: config.messages.retentionDays,
    }),
  routes: (app, messages) => messageRoutes(app, messages),
  // Bound to the conversation and the message: the context row is "<conversation_id>:<id>".
  encryptedColumns: [{ table: "messages", id: "id", column: "body", rowColumns: ["conversation_id", "id"] }],
  auditEvents: EVENTS,
  prune: async (messages) => ({ messages: await messages.prune() }),
});
