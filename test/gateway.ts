// Helpers for gateway tests: a real upstream (a small Node server that reports what it received),
// a rules file, and an app listening on a real socket in front of it.
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomToken } from "../src/core/crypto/index.js";
import { startApp, type TestApp, type TestAppOptions } from "./harness.js";

/** What the upstream saw of one request. */
export type Seen = { method: string; url: string; headers: IncomingHttpHeaders; body: string };

export type Upstream = {
  url: string;
  seen: Seen[];
  /** Releases the end of a `/stream/...` response (the first chunk is sent at once). */
  finishStream(): void;
  close(): Promise<void>;
};

/**
 * A Node upstream. `/slow/...` never answers (until closed), `/stream/...` sends a first chunk and
 * holds the rest until `finishStream()`, `/fail/...` answers 500 with its own JSON, `/loud/...`
 * answers with headers Bulwark must replace or drop; anything else echoes what it saw as JSON.
 */
export async function startUpstream(): Promise<Upstream> {
  const seen: Seen[] = [];
  let release: (() => void) | undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const entry = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      seen.push(entry);
      const path = entry.url.split("?")[0]!;
      if (path.includes("/slow")) return;
      if (path.includes("/stream")) {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.write(Buffer.alloc(64 * 1024, 97));
        void released.then(() => res.end(Buffer.alloc(1024, 98)));
        return;
      }
      if (path.includes("/fail")) {
        res.writeHead(500, { "content-type": "application/json", "x-upstream": "own" });
        return res.end(JSON.stringify({ detail: "upstream's own error" }));
      }
      if (path.includes("/loud")) {
        res.writeHead(200, {
          "content-type": "application/json",
          server: "uvicorn",
          "x-powered-by": "Express",
          "x-frame-options": "ALLOWALL",
          "content-security-policy": "default-src *",
          "access-control-allow-origin": "*",
          "cache-control": "max-age=60",
          "set-cookie": ["bulwark_access=planted; Path=/", "theme=dark; Path=/"],
        });
        return res.end("{}");
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(entry));
    });
  });
  // WebSocket upgrades: answered 101, then every chunk is echoed with the caller's identity.
  const upgraded = new Set<import("node:stream").Duplex>();
  server.on("upgrade", (req, socket) => {
    upgraded.add(socket);
    socket.on("close", () => upgraded.delete(socket));
    socket.on("end", () => socket.end());
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: "" });
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nServer: uvicorn\r\n\r\n",
    );
    socket.on("data", (d: Buffer) => socket.write(`echo:${String(req.headers["x-bulwark-user"])}:${d.toString()}`));
    socket.on("error", () => socket.destroy());
  });
  server.keepAliveTimeout = 1000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    seen,
    finishStream: () => release?.(),
    async close() {
      release?.();
      server.closeAllConnections();
      for (const socket of upgraded) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** Writes a rules file (YAML text) to a temp directory and returns its path. */
export function rulesFile(text: string, ext = "yaml"): string {
  const file = join(mkdtempSync(join(tmpdir(), "bulwark-rules-")), `rules.${ext}`);
  writeFileSync(file, text);
  return file;
}

/** The rules most gateway tests use. */
export const STANDARD_RULES = `
rules:
  - name: public
    prefix: /public
    methods: [GET, POST]
    auth: public
  - name: app
    prefix: /app
    methods: [GET, POST, PUT, DELETE]
    auth: user
    body_limit: 1024
    content_types: [application/json, text/csv]
    audit: app.write
  - name: admin
    prefix: /app/admin
    methods: [GET]
    auth: admin
  - name: reports
    prefix: /reports
    methods: [GET]
    auth: { apiKey: "reports:read" }
  - name: live
    prefix: /live
    methods: [GET]
    auth: user
    websocket: true
  - name: internal
    prefix: /internal
    methods: [GET]
    auth: public
    cors: false
`;

/** An app in gateway mode in front of `upstream`, listening on 127.0.0.1; `secret` is its GATEWAY_SECRET. */
export async function startGateway(
  upstream: Upstream,
  options: TestAppOptions & { rules?: string } = {},
): Promise<TestApp & { base: string; secret: string }> {
  const secret = randomToken(32);
  const t = await startApp({
    ...options,
    env: {
      UPSTREAM_URL: upstream.url,
      GATEWAY_RULES: rulesFile(options.rules ?? STANDARD_RULES),
      GATEWAY_SECRET: secret,
      CORS_ORIGINS: "https://app.example.com",
      ...options.env,
    },
  });
  await t.app.listen({ host: "127.0.0.1", port: 0 });
  return { ...t, base: `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`, secret };
}
