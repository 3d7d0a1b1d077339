// Errors Node's HTTP parser raises before any request exists (a malformed request line or header,
// headers past Node's 16 KiB, a request that never finished): Fastify cannot route them, so no hook
// runs. The server's `clientError` event writes this raw response instead of Fastify's bare one, so
// even these carry the security headers and the error envelope.
import type { Socket } from "node:net";
import { STATUS_CODES, type IncomingMessage } from "node:http";
import { requestId } from "./headers.js";

type ClientError = Error & { code?: string };

/** Status, stable code and message for a parser error; never the parser's own text (it may quote the bytes). */
function describe(error: ClientError): { status: number; code: string; message: string } {
  if (error.code === "HPE_HEADER_OVERFLOW")
    return { status: 431, code: "headers_too_large", message: "request headers are too large" };
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT")
    return { status: 408, code: "invalid_request", message: "the request was not received in time" };
  return { status: 400, code: "invalid_request", message: "malformed HTTP request" };
}

/**
 * Fastify's `clientErrorHandler`: writes a complete HTTP/1.1 response with `headers` and the JSON
 * envelope, then closes the connection (the parser's state is lost, so nothing more can be read).
 * What Node does not allow: no request exists yet (the id is a fresh one), nothing is logged
 * per request, and after an error in the middle of a response, or on HTTP/2, there is nothing to write.
 */
export function clientErrorHandler(headers: Record<string, string>): (error: ClientError, socket: Socket) => void {
  return (error, socket) => {
    // A reset connection is gone; a socket already written to cannot take a second response.
    if (error.code === "ECONNRESET" || socket.destroyed) return;
    if (
      !socket.writable ||
      (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent
    ) {
      socket.destroy();
      return;
    }
    const { status, code, message } = describe(error);
    // A fresh id (the request's own header was never parsed): every response carries one.
    const id = requestId({ headers: {} } as IncomingMessage);
    const body = JSON.stringify({ error: { code, message, request_id: id } });
    const lines = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      `x-request-id: ${id}`,
      "content-type: application/json; charset=utf-8",
      `content-length: ${Buffer.byteLength(body)}`,
      "connection: close",
    ];
    socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
  };
}
