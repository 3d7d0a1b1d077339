// One outbound HTTP POST of a signed webhook: the SSRF guard on the resolved address, a 10 s
// timeout, no redirects followed, the response body read (bounded) and discarded.
import http from "node:http";
import https from "node:https";
import { BlockedTargetError, guardedLookup, isPrivateAddress, literalAddress, type ResolveAll } from "./ssrf.js";

export type SendResult = { statusCode: number | null; error: string | null };

export const DELIVERY_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

/** POSTs `body` with `headers` to `url`; a 2xx answer is success, anything else (or no answer) a failure. */
export async function send(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { allowPrivate: boolean; timeoutMs?: number; resolveAll?: ResolveAll },
): Promise<SendResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { statusCode: null, error: "invalid url" };
  }
  if (target.protocol !== "https:" && target.protocol !== "http:")
    return { statusCode: null, error: "unsupported scheme" };
  // An IP literal is never looked up, so the guard checks it here.
  const literal = literalAddress(target);
  if (literal !== undefined && !options.allowPrivate && isPrivateAddress(literal))
    return { statusCode: null, error: "target address refused (not public)" };
  const client = target.protocol === "https:" ? https : http;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = client.request(
      target,
      {
        method: "POST",
        headers: {
          ...headers,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
          "user-agent": "Bulwark-Webhooks/1",
        },
        // The connection goes to the address this lookup checked: DNS rebinding cannot swap it.
        lookup: guardedLookup(options.allowPrivate, options.resolveAll),
        // A fresh connection every time: a pooled socket would skip the lookup (and the guard).
        agent: false,
      },
      (res) => {
        let received = 0;
        res.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received > MAX_RESPONSE_BYTES) res.destroy();
        });
        const status = res.statusCode ?? 0;
        // Redirects are not followed (a 3xx is a failure): a redirect could point at an internal address.
        const ok = status >= 200 && status < 300;
        res.on("end", () => finish({ statusCode: status, error: ok ? null : `http ${status}` }));
        res.on("close", () => finish({ statusCode: status, error: ok ? null : `http ${status}` }));
        res.on("error", () => finish({ statusCode: status, error: ok ? null : `http ${status}` }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error("timeout"));
      finish({ statusCode: null, error: `timed out after ${options.timeoutMs ?? DELIVERY_TIMEOUT_MS} ms` });
    }, options.timeoutMs ?? DELIVERY_TIMEOUT_MS);
    req.on("error", (error) => {
      const message =
        error instanceof BlockedTargetError || (error as { cause?: unknown }).cause instanceof BlockedTargetError
          ? "target address refused (not public)"
          : `connection failed: ${(error as NodeJS.ErrnoException).code ?? error.message}`.slice(0, 200);
      finish({ statusCode: null, error: message });
    });
    req.end(body);
  });
}
