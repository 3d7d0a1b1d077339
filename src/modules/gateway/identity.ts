// The identity the upstream receives. The upstream must be able to trust it without parsing a
// JWT, and must be able to tell it from a client's forgery: every `X-Bulwark-*` header a client
// sends is dropped, and Bulwark's own are bound together by an HMAC over the method, the path
// and a timestamp, so one cannot be replayed on another path or reused after a minute.
// examples/gateway/bulwark_identity.py verifies the same bytes with Python's hmac module.
import { createHmac } from "node:crypto";
import type { Principal } from "../../http/types.js";

/** The identity headers, in the order the signature covers them. */
export const IDENTITY_HEADERS = [
  "x-bulwark-user",
  "x-bulwark-role",
  "x-bulwark-scopes",
  "x-bulwark-key",
  "x-bulwark-request-id",
] as const;
export const TIMESTAMP_HEADER = "x-bulwark-timestamp";
export const SIGNATURE_HEADER = "x-bulwark-signature";
/** The internal JWT (GATEWAY_IDENTITY=jwt). */
export const IDENTITY_TOKEN_HEADER = "x-bulwark-identity";
export const IDENTITY_TOKEN_TYP = "bulwark-identity+jwt";
export const IDENTITY_TOKEN_TTL = 60;

export type IdentityValues = Record<(typeof IDENTITY_HEADERS)[number], string>;

/** The identity header values of a caller (empty strings for an anonymous one). */
export function identityValues(principal: Principal | null, requestId: string): IdentityValues {
  return {
    "x-bulwark-user": principal?.userId ?? "",
    "x-bulwark-role": principal ? principal.role : "",
    "x-bulwark-scopes": principal?.type === "api_key" ? (principal.scopes ?? []).join(",") : "",
    "x-bulwark-key": principal?.type === "api_key" ? (principal.keyId ?? "") : "",
    "x-bulwark-request-id": requestId,
  };
}

/**
 * The bytes that are signed: a version line, the method, the request target (path and query as
 * sent upstream), the timestamp, then each identity header as `name:value`, joined by newlines.
 * Values never hold a newline (ids, a role, scopes, a request id), so the framing is unambiguous.
 */
export function signatureBase(method: string, target: string, timestamp: string, values: IdentityValues): string {
  return [
    "bulwark-v1",
    method.toUpperCase(),
    target,
    timestamp,
    ...IDENTITY_HEADERS.map((h) => `${h}:${values[h]}`),
  ].join("\n");
}

/** `v1=` and the hex HMAC-SHA256 of the signature base under the gateway secret. */
export function signIdentity(
  secret: string,
  method: string,
  target: string,
  timestamp: string,
  values: IdentityValues,
): string {
  return `v1=${createHmac("sha256", secret)
    .update(signatureBase(method, target, timestamp, values))
    .digest("hex")}`;
}
