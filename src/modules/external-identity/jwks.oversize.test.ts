// Attack: an outside JWKS endpoint (compromised, or spoofed on the path) streams an endless body to exhaust this server's memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createFakeClock } from "../../core/clock.js";
import { createJwksCache } from "./jwks.js";

/** A server answering a JSON body of up to `total` bytes in 16 KiB chunks, counting what it got to write. */
async function streamingServer(
  total: number,
  withLength: boolean,
): Promise<{ server: Server; url: string; written(): number; closed: Promise<void> }> {
  let written = 0;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  const chunk = Buffer.alloc(16 * 1024, " ");
  const server = createServer((_req, res) => {
    res.writeHead(200, {
      "content-type": "application/json",
      ...(withLength ? { "content-length": String(total) } : {}),
    });
    res.on("close", markClosed);
    res.write('{"keys":[],"pad":"');
    const pump = () => {
      while (written < total) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      res.end('"}');
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/jwks.json`, written: () => written, closed };
}

for (const withLength of [false, true]) {
  test(`a JWKS body past 64 KiB is abandoned while it streams, not read whole (${withLength ? "with" : "without"} content-length)`, async () => {
    const total = 256 * 1024 * 1024;
    const { server, url, written, closed } = await streamingServer(total, withLength);
    const errors: Error[] = [];
    try {
      const jwks = createJwksCache({
        url,
        clock: createFakeClock(),
        timeoutMs: 20_000,
        onError: (e) => errors.push(e),
      });
      const started = Date.now();
      await assert.rejects(jwks.key({ alg: "RS256", kid: "k1" }), /unknown kid/);
      await closed;
      assert.ok(
        errors.some((e) => /too large/.test(e.message)),
        `the fetch failed as too large: ${errors.map((e) => e.message).join("; ")}`,
      );
      // The socket buffers a little past the cap; reading the whole body would be 256 MiB.
      assert.ok(written() < 8 * 1024 * 1024, `the server wrote ${written()} bytes before the client hung up`);
      assert.ok(Date.now() - started < 10_000, "the client gave up at once, not at the timeout");
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
}
