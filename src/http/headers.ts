// The security headers of shared/API.md, computed once at start and set in one hook: recomputing
// them per request (as @fastify/helmet does) halves throughput for no benefit.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isWellFormedRequestId } from "../core/ids.js";

const PERMISSIONS_POLICY = [
  "accelerometer", "autoplay", "camera", "clipboard-read", "clipboard-write", "display-capture",
  "encrypted-media", "fullscreen", "geolocation", "gyroscope", "hid", "idle-detection", "magnetometer",
  "microphone", "midi", "payment", "picture-in-picture", "publickey-credentials-get", "screen-wake-lock",
  "serial", "usb", "web-share", "xr-spatial-tracking",
].map((feature) => `${feature}=()`).join(", ");

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

/** Fastify's genReqId: the client's X-Request-Id when well-formed (tracing across services), else a UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return isWellFormedRequestId(given) ? given : randomUUID();
}
