// The security headers (docs/security-model.md), computed once at start and set in one hook: recomputing
// them per request (as @fastify/helmet does) halves throughput for no benefit.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isWellFormedRequestId } from "../core/ids.js";

const PERMISSIONS_POLICY = [
  "accelerometer",
  "autoplay",
  "camera",
  "clipboard-read",
  "clipboard-write",
  "display-capture",
  "encrypted-media",
  "fullscreen",
  "geolocation",
  "gyroscope",
  "hid",
  "idle-detection",
  "magnetometer",
  "microphone",
  "midi",
  "payment",
  "picture-in-picture",
  "publickey-credentials-get",
  "screen-wake-lock",
  "serial",
  "usb",
  "web-share",
  "xr-spatial-tracking",
]
  .map((feature) => `${feature}=()`)
  .join(", ");

/** The fixed header set for every response; HSTS only in production, where PUBLIC_URL is https. */
export function securityHeaders(production: boolean): Record<string, string> {
  return {
    ...(production ? { "strict-transport-security": "max-age=63072000; includeSubDomains" } : {}),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": PERMISSIONS_POLICY,
    // The XSS auditor that `1; mode=block` enabled is gone from current browsers and could be abused
    // to blank or probe pages in old ones; `0` is OWASP's advice (docs/security-model.md).
    "x-xss-protection": "0",
  };
}

// Request ids need to be unique, not secret: a random per-process prefix and a counter are unique
// across instances and cost a fraction of a UUID per request.
const PROCESS_PREFIX = randomBytes(6).toString("base64url");
let sequence = 0;

/** Fastify's genReqId: the client's X-Request-Id when well-formed (tracing across services), else a fresh id. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  if (isWellFormedRequestId(given)) return given;
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return `${PROCESS_PREFIX}-${sequence.toString(36).padStart(8, "0")}`;
}
