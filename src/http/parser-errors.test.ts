// Attack: requests malformed below Fastify (bad request line, oversized headers) to get an answer without the security headers or the error envelope.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type AddressInfo } from "node:net";
import { startApp } from "../../test/harness.js";

/** Sends raw bytes on a fresh TCP connection and returns everything the server wrote before closing. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.setTimeout(10_000, () => reject(new Error("no answer")));
    socket.write(bytes);
  });
}

function parse(response: string): { status: number; headers: Record<string, string>; body: string } {
  const [head = "", body = ""] = response.split("\r\n\r\n");
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
  );
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

test("errors of Node's HTTP parser answer with the security headers and the JSON envelope", async () => {
  const t = await startApp({ env: { NODE_ENV: "development" } });
  try {
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = t.app.server.address() as AddressInfo;
    const cases = [
      {
        name: "a malformed header line",
        bytes: "GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
        status: 400,
        code: "invalid_request",
      },
      {
        name: "a NUL in the request line",
        bytes: "GET /hea\u0000lth HTTP/1.1\r\nHost: x\r\n\r\n",
        status: 400,
        code: "invalid_request",
      },
      {
        name: "a bad Content-Length",
        bytes: "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        status: 400,
        code: "invalid_request",
      },
      {
        name: "headers past Node's 16 KiB",
        bytes: `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
        status: 431,
        code: "headers_too_large",
      },
    ];
    for (const c of cases) {
      const res = parse(await raw(port, c.bytes));
      assert.equal(res.status, c.status, c.name);
      for (const header of [
        "x-content-type-options",
        "x-frame-options",
        "content-security-policy",
        "cache-control",
        "referrer-policy",
      ]) {
        assert.ok(res.headers[header], `${c.name}: ${header}`);
      }
      // Found by the fuzzer: every response carries X-Request-Id (docs/errors.md), these included, so
      // an operator can find the line the parser error logged.
      assert.match(res.headers["x-request-id"] ?? "", /^[A-Za-z0-9._:-]{8,128}$/, `${c.name}: x-request-id`);
      assert.equal(res.headers["connection"], "close", c.name);
      assert.match(res.headers["content-type"] ?? "", /^application\/json/, c.name);
      const body = JSON.parse(res.body) as { error: { code: string; message: string; request_id: string } };
      assert.equal(body.error.code, c.code, c.name);
      assert.equal(body.error.request_id, res.headers["x-request-id"], c.name);
      assert.equal(typeof body.error.message, "string");
      assert.equal(Number(res.headers["content-length"]), Buffer.byteLength(res.body), c.name);
    }
    // The server still answers.
    const ok = parse(await raw(port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    assert.equal(ok.status, 200);
  } finally {
    await t.close();
  }
});
