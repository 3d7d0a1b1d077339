// Opaque, time-ordered identifiers: sortable for cursor pagination, unguessable for everything else.
import { randomBytes } from "node:crypto";

/** A UUIDv7-style id (48-bit millisecond time, then random bits) as 32 lowercase hex characters. */
export function newId(now = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return bytes.toString("hex");
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** Whether a client-supplied request id is safe to echo and log (no injection, bounded length). */
export function isWellFormedRequestId(value: unknown): value is string {
  return typeof value === "string" && REQUEST_ID.test(value);
}
