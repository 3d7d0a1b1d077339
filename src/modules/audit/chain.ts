// The hash chain: each row's hash covers the previous row's hash and a canonical form of the row,
// so editing, inserting or deleting a row breaks a link that `verify` recomputes.
import { sha256Hex } from "../../core/crypto/index.js";

/** The prev_hash of the first row, and the head hash of an empty log. */
export const GENESIS_HASH = "0".repeat(64);

/** The fields a row's hash covers (everything but seq and the hashes themselves). */
export type ChainedRow = {
  id: string;
  at: Date;
  eventType: string;
  result: string;
  actorUserId: string | null;
  actorKeyId: string | null;
  ip: string | null;
  userAgent: string | null;
  target: string | null;
  metadata: Record<string, unknown>;
};

/** JSON with object keys sorted at every depth: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(",")}}`;
}

/** The canonical serialisation of a row, as hashed. */
export function canonicalRow(row: ChainedRow): string {
  return canonicalJson({
    id: row.id,
    // Milliseconds, as stored: the value read back from timestamptz gives the same text.
    at: row.at.toISOString(),
    event_type: row.eventType,
    result: row.result,
    actor: { user_id: row.actorUserId, key_id: row.actorKeyId },
    ip: row.ip,
    user_agent: row.userAgent,
    target: row.target,
    metadata: row.metadata,
  });
}

/** hash = SHA-256(prev_hash ‖ canonical row), lowercase hex. */
export function rowHash(prevHash: string, row: ChainedRow): string {
  return sha256Hex(prevHash + canonicalRow(row));
}
