// `bulwark messages import`: messages exported from a backend that encrypted them with Fernet
// (Python `cryptography`), verified, decrypted and sealed again under the keyring, with their
// authors (matched by username to users imported before) and times. docs/messages.md walks through it.
import { fernetDecrypt, FernetError, type FernetKey } from "../../core/crypto/fernet.js";
import { AppError } from "../../core/errors.js";
import type { Database } from "../../store/db.js";
import type { AccountService } from "../accounts/index.js";
import type { AuditService } from "../audit/index.js";
import type { MessagesService } from "./service.js";
import { cleanBody } from "./service.js";

/** One exported message: `token` is the Fernet ciphertext of its body. */
export type ExportRow = {
  id?: string;
  conversation?: string;
  sender?: string;
  recipient?: string;
  token?: string;
  created_at?: string;
};
export type Reject = { row: number; id: string | null; reason: string };
export type ImportReport = { read: number; imported: number; conversations: number; rejects: Reject[] };

const FIELDS = ["id", "conversation", "sender", "recipient", "token", "created_at"] as const;
/** Column names of other exports that mean the same. */
const ALIASES: Record<string, (typeof FIELDS)[number]> = {
  content: "token",
  encrypted_content: "token",
  ciphertext: "token",
  body: "token",
  message: "token",
  sender_username: "sender",
  author: "sender",
  from: "sender",
  recipient_username: "recipient",
  to: "recipient",
  room: "conversation",
  conversation_id: "conversation",
  channel: "conversation",
  timestamp: "created_at",
  sent_at: "created_at",
};

const normalise = (raw: Record<string, unknown>): ExportRow => {
  const row: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const field = (FIELDS as readonly string[]).includes(name) ? name : ALIASES[name.toLowerCase()];
    if (field && value !== null && value !== undefined && value !== "") row[field] = String(value);
  }
  return row;
};

/** Parses an export: a JSON array (or `{"messages": [...]}`) of objects, or a CSV with a header line. */
export function parseExport(text: string): ExportRow[] {
  const trimmed = text.replace(/^\uFEFF/, "").trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    const data = JSON.parse(trimmed) as unknown;
    const list = Array.isArray(data) ? data : (data as { messages?: unknown }).messages;
    if (!Array.isArray(list))
      throw new AppError("invalid_request", 'a JSON export is an array of messages, or {"messages": [...]}');
    return list.map((item) =>
      normalise((typeof item === "object" && item !== null ? item : {}) as Record<string, unknown>),
    );
  }
  const lines = trimmed.split(/\r?\n/).filter((l) => l.trim() !== "");
  const unquote = (cell: string) =>
    cell
      .trim()
      .replace(/^"(.*)"$/, "$1")
      .replace(/""/g, '"');
  const header = (lines.shift() ?? "").split(",").map(unquote);
  return lines.map((line) => {
    const cells = line.split(",").map(unquote);
    return normalise(Object.fromEntries(header.map((name, i) => [name, cells[i] ?? ""])));
  });
}

type Deps = {
  db: Database;
  audit: AuditService;
  messages: MessagesService;
  accounts: Pick<AccountService, "byUsername">;
};

/** Imports the rows; `dryRun` checks and decrypts everything and writes nothing. */
export async function importFernetMessages(
  deps: Deps,
  rows: ExportRow[],
  keys: readonly FernetKey[],
  options: { dryRun?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<ImportReport> {
  const rejects: Reject[] = [];
  const users = new Map<string, string | null>();
  const userId = async (name: string | undefined) => {
    if (!name) return null;
    if (!users.has(name)) users.set(name, (await deps.accounts.byUsername(name))?.id ?? null);
    return users.get(name)!;
  };

  type Ready = { author: string; recipient: string | null; key: string; body: string; createdAt: Date };
  const ready: Ready[] = [];
  for (const [index, row] of rows.entries()) {
    const reject = (reason: string) => rejects.push({ row: index + 1, id: row.id ?? null, reason });
    const author = await userId(row.sender);
    if (!author) {
      reject(
        row.sender
          ? `unknown sender "${row.sender.slice(0, 64)}" (import users first: bulwark users import)`
          : "no sender",
      );
      continue;
    }
    const recipient = row.recipient ? await userId(row.recipient) : null;
    if (row.recipient && !recipient) {
      reject(`unknown recipient "${row.recipient.slice(0, 64)}"`);
      continue;
    }
    if (!row.conversation && !recipient) {
      reject("neither a conversation nor a recipient");
      continue;
    }
    if (!row.token) {
      reject("no token");
      continue;
    }
    let body: string;
    let stamped: Date;
    try {
      const opened = fernetDecrypt(row.token, keys);
      body = cleanBody(new TextDecoder("utf-8", { fatal: true }).decode(opened.plaintext));
      stamped = opened.timestamp;
    } catch (error) {
      // Reasons name the check that failed, never the plaintext.
      if (error instanceof FernetError)
        reject(
          error.code === "ERR_FERNET_SIGNATURE"
            ? "HMAC does not verify under any key (wrong key or tampered token)"
            : error.message,
        );
      else if (error instanceof AppError) reject(`the decrypted text is not a valid message: ${error.message}`);
      else reject("the decrypted text is not UTF-8");
      continue;
    }
    const createdAt = row.created_at ? parseTime(row.created_at) : stamped;
    if (!createdAt) {
      reject("created_at is not a date");
      continue;
    }
    const key = row.conversation ? `group:${row.conversation}` : `direct:${[author, recipient!].sort().join(":")}`;
    ready.push({ author, recipient, key, body, createdAt });
    if ((index + 1) % 500 === 0) options.onProgress?.(index + 1, rows.length);
  }
  options.onProgress?.(rows.length, rows.length);

  const groups = new Map<string, Ready[]>();
  for (const r of ready.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())) {
    const list = groups.get(r.key) ?? [];
    list.push(r);
    groups.set(r.key, list);
  }
  if (options.dryRun) return { read: rows.length, imported: ready.length, conversations: groups.size, rejects };

  let imported = 0;
  for (const [key, list] of groups) {
    await deps.db.transaction(async (tx) => {
      const members = [...new Set(list.flatMap((r) => (r.recipient ? [r.author, r.recipient] : [r.author])))];
      const direct = key.startsWith("direct:");
      const conversationId = await deps.messages.importConversation(tx, {
        type: direct ? "direct" : "group",
        title: direct ? null : key.slice("group:".length).slice(0, 200),
        members,
        createdBy: list[0]!.author,
        createdAt: list[0]!.createdAt,
      });
      for (const r of list)
        await deps.messages.importMessage(tx, {
          conversationId,
          authorId: r.author,
          body: r.body,
          createdAt: r.createdAt,
        });
    });
    imported += list.length;
  }
  await deps.audit.record({
    eventType: "message.import",
    result: "success",
    actor: { userId: null },
    metadata: { via: "cli", read: rows.length, imported, conversations: groups.size, rejected: rejects.length },
  });
  return { read: rows.length, imported, conversations: groups.size, rejects };
}

function parseTime(value: string): Date | undefined {
  const date = /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1970 || date.getUTCFullYear() > 2199
    ? undefined
    : date;
}
