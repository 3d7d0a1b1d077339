// Webhook signature schemes: Stripe's `Stripe-Signature` and Standard Webhooks (`webhook-id`,
// `webhook-timestamp`, `webhook-signature`). Pure functions over node:crypto: no request, no clock
// of their own (the caller passes `now`), so tests and the delivery worker use the very same code.
import { randomBytes } from "node:crypto";
import { hmacSha256, timingSafeEqualString } from "../../core/crypto/index.js";

/** Why a signed request was refused; recorded in the audit log, never sent to the caller. */
export type RejectReason =
  | "missing_header"
  | "malformed_header"
  | "no_v1_signature"
  | "signature_mismatch"
  | "timestamp_too_old"
  | "timestamp_in_future";

export type VerifyOutcome = { ok: true; timestamp: number } | { ok: false; reason: RejectReason };

const MAX_HEADER = 8_192;
const TIMESTAMP = /^\d{1,12}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Whether any candidate equals `expected`; every candidate is compared, in constant time each. */
function anyMatches(expected: string, candidates: readonly string[]): boolean {
  let matched = false;
  // No early exit: the time taken says nothing about which candidate (or whether one) matched.
  for (const candidate of candidates) matched = timingSafeEqualString(expected, candidate) || matched;
  return matched;
}

/** The tolerance check, both ways: a replay of an old event and a pre-signed future one are both refused. */
function checkTimestamp(timestamp: number, nowSeconds: number, tolerance: number): VerifyOutcome {
  if (nowSeconds - timestamp > tolerance) return { ok: false, reason: "timestamp_too_old" };
  if (timestamp - nowSeconds > tolerance) return { ok: false, reason: "timestamp_in_future" };
  return { ok: true, timestamp };
}

/**
 * Verifies a `Stripe-Signature` header (`t=<unix>,v1=<hex>[,v1=…][,v0=…]`) over `t.` plus the raw
 * body bytes, as Stripe specifies: any secret, any v1 may match; other schemes are ignored.
 */
export function verifyStripe(
  header: string | string[] | undefined,
  body: Buffer,
  secrets: readonly string[],
  nowSeconds: number,
  tolerance: number,
): VerifyOutcome {
  if (header === undefined || header === "") return { ok: false, reason: "missing_header" };
  if (typeof header !== "string" || header.length > MAX_HEADER) return { ok: false, reason: "malformed_header" };
  let timestamp: string | undefined;
  const v1: string[] = [];
  for (const item of header.split(",")) {
    const eq = item.indexOf("=");
    if (eq <= 0) return { ok: false, reason: "malformed_header" };
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === "t") {
      // Two timestamps would let an attacker pick which one we check against the tolerance.
      if (timestamp !== undefined || !TIMESTAMP.test(value)) return { ok: false, reason: "malformed_header" };
      timestamp = value;
    } else if (key === "v1") {
      if (HEX64.test(value)) v1.push(value);
    }
    // v0 and any future scheme are ignored: a v0 (SHA-1 test-mode) signature never authenticates.
  }
  if (timestamp === undefined) return { ok: false, reason: "malformed_header" };
  if (v1.length === 0) return { ok: false, reason: "no_v1_signature" };
  // The raw bytes as received: re-serialised JSON would differ in spacing or key order.
  const content = Buffer.concat([Buffer.from(`${timestamp}.`, "utf8"), body]);
  let matched = false;
  // Stripe's endpoint secret is used as-is (its UTF-8 bytes) as the HMAC key.
  for (const secret of secrets) matched = anyMatches(hmacSha256(secret, content).toString("hex"), v1) || matched;
  if (!matched) return { ok: false, reason: "signature_mismatch" };
  return checkTimestamp(Number(timestamp), nowSeconds, tolerance);
}

/** The key bytes of a Standard Webhooks secret: the base64 after `whsec_`. */
export function standardKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
}

/** The `v1,<base64>` signature of a Standard Webhooks message. */
export function signStandard(secret: string, id: string, timestamp: number, body: string | Buffer): string {
  const content = Buffer.concat([
    Buffer.from(`${id}.${timestamp}.`, "utf8"),
    typeof body === "string" ? Buffer.from(body, "utf8") : body,
  ]);
  return `v1,${hmacSha256(standardKey(secret), content).toString("base64")}`;
}

export type StandardHeaders = {
  id: string | string[] | undefined;
  timestamp: string | string[] | undefined;
  signature: string | string[] | undefined;
};

/** Verifies a Standard Webhooks message: HMAC-SHA256 of `id.timestamp.body`, any secret, any `v1,` signature. */
export function verifyStandard(
  headers: StandardHeaders,
  body: Buffer,
  secrets: readonly string[],
  nowSeconds: number,
  tolerance: number,
): VerifyOutcome {
  const { id, timestamp, signature } = headers;
  if (id === undefined || timestamp === undefined || signature === undefined || id === "" || signature === "")
    return { ok: false, reason: "missing_header" };
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof signature !== "string")
    return { ok: false, reason: "malformed_header" };
  // The id becomes part of the signed content and the de-duplication key: keep it printable and short.
  if (!/^[\x21-\x7e]{1,255}$/.test(id) || !TIMESTAMP.test(timestamp) || signature.length > MAX_HEADER)
    return { ok: false, reason: "malformed_header" };
  const v1: string[] = [];
  for (const part of signature.split(" ")) {
    const comma = part.indexOf(",");
    if (comma <= 0) continue;
    // Other versions (v1a: asymmetric) are not ours to check; they are skipped like Stripe's v0.
    if (part.slice(0, comma) === "v1" && BASE64.test(part.slice(comma + 1))) v1.push(part.slice(comma + 1));
  }
  if (v1.length === 0) return { ok: false, reason: "no_v1_signature" };
  const content = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, "utf8"), body]);
  let matched = false;
  for (const secret of secrets)
    matched = anyMatches(hmacSha256(standardKey(secret), content).toString("base64"), v1) || matched;
  if (!matched) return { ok: false, reason: "signature_mismatch" };
  return checkTimestamp(Number(timestamp), nowSeconds, tolerance);
}

/** A fresh endpoint secret: `whsec_` and the base64 of 32 random bytes (Standard Webhooks asks for 24 to 64). */
export function newEndpointSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}
