// Conversations and messages. Threat model:
// - reading what is not yours: every read and write starts from the caller's membership; a
//   conversation the caller is not in answers exactly like one that does not exist (404);
// - plaintext at rest: a body is sealed with the keyring (AES-256-GCM) before it reaches SQL,
//   bound to messages/body/<conversation id>:<message id>, so a ciphertext copied to another row,
//   or to another conversation, fails to decrypt; rotation re-encrypts it (encryptedColumns);
// - plaintext elsewhere: bodies never enter audit rows, errors or logs (edits and deletions are
//   audited as ids only);
// - hostile text: NFC-normalised, 1 to 4000 characters, no control or format characters but the
//   line breaks and tabs a person types (LF, CRLF, TAB; never NUL or a lone CR) — checked
//   here, so the REST route and the WebSocket frame get the same rules;
// - harassment: a block stops new direct conversations and messages between the two, and keeps the
//   blocked user's messages out of the blocker's history and live delivery;
// - unbounded history: keyset pagination on an index, and retention enforced by prune.
import { randomBytes } from "node:crypto";
import type { Clock } from "../../core/clock.js";
import type { Keyring } from "../../core/crypto/keyring.js";
import { MULTILINE_PATTERN } from "../../http/text.js";
import type { Database, Executor } from "../../store/db.js";
import type { AccountService } from "../accounts/index.js";
import type { AuditService, RequestActor } from "../audit/index.js";
import { messageErrors as fail } from "./errors.js";
import * as store from "./store.js";
import type { ConversationRow, MessageRow } from "./store.js";

export type MessagesDeps = {
  db: Database;
  clock: Clock;
  audit: AuditService;
  keyring: Keyring;
  accounts: Pick<AccountService, "sessionUser">;
  /** MESSAGE_RETENTION_DAYS: 0 keeps messages forever. */
  retentionDays: number;
};

export type MessageView = {
  id: string;
  conversation_id: string;
  author_id: string;
  body: string;
  created_at: string;
  edited_at: string | null;
};
export type ConversationView = {
  id: string;
  type: "direct" | "group";
  title: string | null;
  member_ids: string[];
  retention_days: number | null;
  created_at: string;
};

/** What happened to a message, and who should hear of it live. */
export type MessageEvent =
  | { type: "message.created" | "message.updated"; recipients: string[]; message: MessageView }
  | { type: "message.deleted"; recipients: string[]; message: { id: string; conversation_id: string } };

export type MessagesService = ReturnType<typeof createMessagesService>;

export const MAX_BODY_CHARS = 4000;
// The schema's MULTILINE_PATTERN (src/http/text.ts), for the WebSocket path, which has no schema.
const MULTILINE = new RegExp(MULTILINE_PATTERN, "u");

/** A message body as stored: NFC, 1 to 4000 characters (code points), LF, CRLF and TAB but no other control or format character. */
export function cleanBody(input: unknown): string {
  if (typeof input !== "string") throw fail.body("must be a string");
  const body = input.normalize("NFC");
  const length = [...body].length;
  if (length === 0 || body.trim() === "") throw fail.body("must not be empty");
  if (length > MAX_BODY_CHARS) throw fail.body(`must be at most ${MAX_BODY_CHARS} characters`);
  if (!MULTILINE.test(body))
    throw fail.body("must not contain control or format characters (line breaks and tabs are allowed)");
  return body;
}

/** The keyring context of a message body: bound to its conversation and its own id. */
export function bodyContext(conversationId: string, messageId: string) {
  return { table: "messages", column: "body", row: `${conversationId}:${messageId}` };
}

/**
 * Time-ordered ids that also increase within one millisecond (RFC 9562, method 1: a 12-bit
 * counter after the time), so a conversation's history has one order even under a frozen clock.
 */
function monotonicIds() {
  let lastMs = 0;
  let counter = 0;
  return (now: number): string => {
    let ms = now;
    if (ms <= lastMs) {
      ms = lastMs;
      counter++;
      if (counter > 0xfff) {
        ms = ++lastMs;
        counter = 0;
      }
    } else {
      counter = 0;
    }
    lastMs = ms;
    const bytes = randomBytes(16);
    bytes.writeUIntBE(ms, 0, 6);
    bytes.writeUInt16BE(0x7000 | counter, 6);
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    return bytes.toString("hex");
  };
}

/** Builds the messages service. */
export function createMessagesService(deps: MessagesDeps) {
  const { db, clock, audit, keyring } = deps;
  const ids = monotonicIds();
  const nextId = () => ids(clock.now());
  // Imported messages get ids from their original time, so they sort among themselves by it.
  const importIds = monotonicIds();
  const listeners: ((event: MessageEvent) => void)[] = [];

  const seal = (conversationId: string, id: string, body: string) =>
    keyring.encrypt(body, bodyContext(conversationId, id));
  const open = (row: MessageRow) => keyring.decryptString(row.body, bodyContext(row.conversationId, row.id));

  const view = (row: MessageRow, body = open(row)): MessageView => ({
    id: row.id,
    conversation_id: row.conversationId,
    author_id: row.authorId,
    body,
    created_at: row.createdAt.toISOString(),
    edited_at: row.editedAt?.toISOString() ?? null,
  });
  const conversationView = (row: ConversationRow, members: string[]): ConversationView => ({
    id: row.id,
    type: row.type,
    title: row.title,
    member_ids: members,
    retention_days: row.retentionDays,
    created_at: row.createdAt.toISOString(),
  });

  const emit = (event: MessageEvent) => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure (a closed socket) must not fail the write that already committed.
      }
    }
  };

  /** The conversation if `userId` is a member; 404 otherwise, whether or not it exists. */
  const member = async (db: Executor, conversationId: string, userId: string) => {
    const row = await store.findForMember(db, conversationId, userId);
    if (!row) throw fail.conversation();
    return row;
  };

  /** A live account, or 404. */
  const liveUser = async (id: string) => {
    const user = await deps.accounts.sessionUser(id);
    if (!user || user.disabled) throw fail.user();
  };

  /** Members who should hear of a message: all, less those who blocked its author. */
  const recipients = async (conversationId: string, authorId: string) => {
    const members = await store.memberIds(db, conversationId);
    const blockers = await store.blockersOf(db, authorId, members);
    return members.filter((id) => !blockers.has(id));
  };

  const record = (
    tx: Executor,
    eventType: Parameters<AuditService["record"]>[0]["eventType"],
    actor: RequestActor,
    target: string,
    metadata: Record<string, unknown> = {},
  ) => audit.record({ eventType, result: "success", ...actor, target, metadata }, tx);

  return {
    /** Calls `listener` after each committed change to a message (the realtime module fans them out). */
    listen(listener: (event: MessageEvent) => void): void {
      listeners.push(listener);
    },

    /**
     * Creates a conversation. A direct one is between the caller and one other user, at most one
     * per pair: asking again returns the existing one (`created: false`). Refused while either
     * blocked the other.
     */
    async createConversation(
      userId: string,
      input: {
        type: "direct" | "group";
        member_ids: string[];
        title?: string | undefined;
        retention_days?: number | undefined;
      },
      actor: RequestActor,
    ): Promise<{ conversation: ConversationView; created: boolean }> {
      const others = [...new Set(input.member_ids.filter((id) => id !== userId))];
      if (input.type === "direct" && (others.length !== 1 || input.title !== undefined)) throw fail.direct();
      for (const id of others) await liveUser(id);
      const members = [userId, ...others].sort();
      const now = new Date(clock.now());
      if (input.type === "direct") {
        if (await store.blockedEitherWay(db, userId, others[0]!)) throw fail.blocked();
        const directKey = members.join(":");
        const existing = await store.findDirect(db, directKey);
        if (existing) return { conversation: conversationView(existing, members), created: false };
      }
      const row: ConversationRow = {
        id: nextId(),
        type: input.type,
        title: input.title?.normalize("NFC") ?? null,
        createdBy: userId,
        directKey: input.type === "direct" ? members.join(":") : null,
        retentionDays: input.retention_days ?? null,
        createdAt: now,
      };
      const created = await db.transaction(async (tx) => {
        if (!(await store.insertConversation(tx, row, members, now))) return false;
        await record(tx, "conversation.create", actor, row.id, { type: row.type, members: members.length });
        return true;
      });
      if (!created) {
        // Two requests for the same pair at once: the other one won; answer with its conversation.
        const existing = await store.findDirect(db, row.directKey!);
        if (!existing) throw fail.conversation();
        return { conversation: conversationView(existing, members), created: false };
      }
      return { conversation: conversationView(row, members), created: true };
    },

    /** The caller's conversations, newest first. */
    async listConversations(
      userId: string,
      cursor: string | undefined,
      limit: number,
    ): Promise<{ conversations: ConversationView[]; next_cursor: string | null }> {
      const rows = await store.listForMember(db, userId, cursor, limit + 1);
      const page = rows.slice(0, limit);
      const members = await store.membersOf(
        db,
        page.map((r) => r.id),
      );
      return {
        conversations: page.map((r) => conversationView(r, members.get(r.id) ?? [])),
        next_cursor: rows.length > limit ? page.at(-1)!.id : null,
      };
    },

    /** Adds a user to a group the caller is in. */
    async addMember(
      userId: string,
      conversationId: string,
      newMember: string,
      actor: RequestActor,
    ): Promise<ConversationView> {
      const row = await member(db, conversationId, userId);
      if (row.type === "direct") throw fail.direct();
      await liveUser(newMember);
      await db.transaction(async (tx) => {
        if (await store.addMember(tx, conversationId, newMember, new Date(clock.now()))) {
          await record(tx, "conversation.member_add", actor, conversationId, { user_id: newMember });
        }
      });
      return conversationView(row, await store.memberIds(db, conversationId));
    },

    /** Removes a member from a group: anyone may leave; only the creator removes others. */
    async removeMember(userId: string, conversationId: string, removed: string, actor: RequestActor): Promise<void> {
      const row = await member(db, conversationId, userId);
      if (row.type === "direct") throw fail.direct();
      if (removed !== userId && row.createdBy !== userId) throw fail.notOwner();
      const done = await db.transaction(async (tx) => {
        if (!(await store.removeMember(tx, conversationId, removed))) return false;
        await record(tx, "conversation.member_remove", actor, conversationId, { user_id: removed });
        return true;
      });
      if (!done) throw fail.user();
    },

    /** Sends a message: the same call serves REST and the WebSocket. */
    async send(userId: string, conversationId: string, rawBody: unknown): Promise<MessageView> {
      const body = cleanBody(rawBody);
      const conversation = await member(db, conversationId, userId);
      if (conversation.type === "direct") {
        const other = conversation.directKey!.split(":").find((id) => id !== userId);
        if (other && (await store.blockedEitherWay(db, userId, other))) throw fail.blocked();
      }
      const id = nextId();
      const row: MessageRow = {
        id,
        conversationId,
        authorId: userId,
        body: seal(conversationId, id, body),
        createdAt: new Date(clock.now()),
        editedAt: null,
      };
      await store.insertMessage(db, row);
      const message = view(row, body);
      emit({ type: "message.created", recipients: await recipients(conversationId, userId), message });
      return message;
    },

    /** Edits one's own message; audited as ids, never the text. */
    async edit(
      userId: string,
      conversationId: string,
      messageId: string,
      rawBody: unknown,
      actor: RequestActor,
    ): Promise<MessageView> {
      const body = cleanBody(rawBody);
      await member(db, conversationId, userId);
      const existing = await store.findMessage(db, conversationId, messageId);
      if (!existing || existing.authorId !== userId) throw fail.message();
      const editedAt = new Date(clock.now());
      const updated = await db.transaction(async (tx) => {
        if (!(await store.updateBody(tx, messageId, userId, seal(conversationId, messageId, body), editedAt)))
          return false;
        await record(tx, "message.edit", actor, messageId, { conversation_id: conversationId });
        return true;
      });
      if (!updated) throw fail.message();
      const message = view({ ...existing, editedAt }, body);
      emit({ type: "message.updated", recipients: await recipients(conversationId, userId), message });
      return message;
    },

    /** Deletes one's own message. */
    async remove(userId: string, conversationId: string, messageId: string, actor: RequestActor): Promise<void> {
      await member(db, conversationId, userId);
      const deleted = await db.transaction(async (tx) => {
        if (!(await store.deleteMessage(tx, conversationId, messageId, userId))) return false;
        await record(tx, "message.delete", actor, messageId, { conversation_id: conversationId });
        return true;
      });
      if (!deleted) throw fail.message();
      emit({
        type: "message.deleted",
        recipients: await store.memberIds(db, conversationId),
        message: { id: messageId, conversation_id: conversationId },
      });
    },

    /** A page of history, newest first; `next_cursor` is the `before` of the next page. */
    async history(
      userId: string,
      conversationId: string,
      before: string | undefined,
      limit: number,
    ): Promise<{ messages: MessageView[]; next_cursor: string | null }> {
      await member(db, conversationId, userId);
      const rows = await store.history(db, conversationId, userId, before, limit + 1);
      const page = rows.slice(0, limit);
      return { messages: page.map((r) => view(r)), next_cursor: rows.length > limit ? page.at(-1)!.id : null };
    },

    /** Blocks a user; idempotent. */
    async block(userId: string, target: string, actor: RequestActor): Promise<void> {
      if (target === userId) throw fail.user();
      await liveUser(target);
      await db.transaction(async (tx) => {
        if (await store.block(tx, userId, target, new Date(clock.now()))) await record(tx, "user.block", actor, target);
      });
    },

    /** Lifts a block; idempotent. */
    async unblock(userId: string, target: string, actor: RequestActor): Promise<void> {
      await db.transaction(async (tx) => {
        if (await store.unblock(tx, userId, target)) await record(tx, "user.unblock", actor, target);
      });
    },

    /** Deletes messages past their retention; returns how many. */
    prune: () => store.pruneExpired(db, new Date(clock.now()), deps.retentionDays),

    /** For the importer: a group with these members, or the direct conversation of two users (existing or new). */
    async importConversation(
      tx: Executor,
      input: { type: "direct" | "group"; title: string | null; members: string[]; createdBy: string; createdAt: Date },
    ): Promise<string> {
      const members = [...new Set(input.members)].sort();
      const directKey = input.type === "direct" ? members.join(":") : null;
      if (directKey) {
        const existing = await store.findDirect(tx, directKey);
        if (existing) return existing.id;
      }
      const id = importIds(input.createdAt.getTime());
      await store.insertConversation(
        tx,
        {
          id,
          type: input.type,
          title: input.title,
          createdBy: input.createdBy,
          directKey,
          retentionDays: null,
          createdAt: input.createdAt,
        },
        members,
        input.createdAt,
      );
      return id;
    },

    /** For the importer: a message with its original author and time, sealed like any other. */
    async importMessage(
      tx: Executor,
      input: { conversationId: string; authorId: string; body: string; createdAt: Date },
    ): Promise<string> {
      const id = importIds(input.createdAt.getTime());
      await store.insertMessage(tx, {
        id,
        conversationId: input.conversationId,
        authorId: input.authorId,
        body: seal(input.conversationId, id, cleanBody(input.body)),
        createdAt: input.createdAt,
        editedAt: null,
      });
      return id;
    },
  };
}
