// Attack: another site's page opens a WebSocket to the gateway; the browser attaches the user's
// session cookies (cross-site WebSocket hijacking). And: an upgrade without a session, or with a
// revoked one, reaching the backend.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { startGateway, startUpstream, type Upstream } from "../../../test/gateway.js";
import type { TestApp } from "../../../test/harness.js";
import { register } from "../../../test/identity.js";

let upstream: Upstream;
let t: TestApp & { base: string; secret: string };
before(async () => {
  upstream = await startUpstream();
  t = await startGateway(upstream);
});
after(async () => {
  await t.close();
  await upstream.close();
});

/** Opens a raw upgrade; resolves with the response head and a way to exchange one message. */
async function upgrade(path: string, headers: Record<string, string>) {
  return upgradeAt(new URL(t.base).port, path, headers);
}

async function upgradeAt(portText: string, path: string, headers: Record<string, string>) {
  const port = Number(portText);
  const socket = connect(port, "127.0.0.1");
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Connection: Upgrade",
    "Upgrade: websocket",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  let buffer = "";
  const head = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      buffer += d.toString();
      const end = buffer.indexOf("\r\n\r\n");
      if (end >= 0) {
        socket.off("data", onData);
        resolve(buffer.slice(0, end));
        buffer = buffer.slice(end + 4);
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
  });
  return {
    head,
    status: Number(head.split(" ")[1]),
    async exchange(message: string): Promise<string> {
      socket.write(message);
      return new Promise((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString())));
    },
    close: () => socket.destroy(),
  };
}

async function browserSession() {
  const user = await register(t.app);
  const res = await t.app.inject({
    method: "POST",
    url: "/api/auth/login",
    payload: { login: user.username, password: user.password, use_cookies: true },
  });
  const jar = Object.fromEntries(
    (res.headers["set-cookie"] as string[]).map((line) => line.split(";")[0]!.split("=") as [string, string]),
  );
  return {
    userId: user.userId,
    cookie: Object.entries(jar)
      .map(([k, v]) => `${k}=${v}`)
      .join("; "),
    csrf: jar.bulwark_csrf!,
  };
}

test("an upgrade with a cookie session from an allowed page is tunnelled with the user's identity", async () => {
  const session = await browserSession();
  const ws = await upgrade("/live/feed", { cookie: session.cookie, origin: "https://app.example.com" });
  try {
    assert.equal(ws.status, 101, ws.head);
    assert.doesNotMatch(ws.head, /^server:/im);
    assert.equal(await ws.exchange("hi"), `echo:${session.userId}:hi`);
    const seen = upstream.seen.at(-1)!;
    assert.equal(seen.url, "/live/feed");
    assert.match(String(seen.headers["x-bulwark-signature"]), /^v1=[0-9a-f]{64}$/);
    assert.equal(seen.headers.cookie, undefined, "the session cookies stay with Bulwark");
  } finally {
    ws.close();
  }
});

test("a cookie upgrade from another site's page is refused before the backend sees it", async () => {
  const session = await browserSession();
  const before = upstream.seen.length;
  const attempts: Record<string, string>[] = [
    { cookie: session.cookie, origin: "https://evil.example" },
    { cookie: session.cookie },
  ];
  for (const headers of attempts) {
    const ws = await upgrade("/live/feed", headers);
    assert.equal(ws.status, 403, ws.head);
    ws.close();
  }
  assert.equal(upstream.seen.length, before);
});

test("an upgrade without a session, or with a revoked one, gets 401", async () => {
  const anonymous = await upgrade("/live/feed", { origin: "https://app.example.com" });
  assert.equal(anonymous.status, 401);
  anonymous.close();
  const session = await browserSession();
  const out = await t.app.inject({
    method: "POST",
    url: "/api/auth/logout",
    headers: { cookie: session.cookie, "x-csrf-token": session.csrf, origin: "https://app.example.com" },
  });
  assert.equal(out.statusCode, 204, out.body);
  const revoked = await upgrade("/live/feed", { cookie: session.cookie, origin: "https://app.example.com" });
  assert.equal(revoked.status, 401);
  revoked.close();
});

test("upgrades count against the user's budget: past it 429, before the backend sees them", async () => {
  const limited = await startGateway(upstream, { env: { RATE_LIMIT_PER_MINUTE: "3" } });
  try {
    const user = await register(limited.app);
    const res = await limited.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { login: user.username, password: user.password, use_cookies: true },
    });
    const cookie = (res.headers["set-cookie"] as string[]).map((line) => line.split(";")[0]).join("; ");
    const port = new URL(limited.base).port;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const ws = await upgradeAt(port, "/live/feed", { cookie, origin: "https://app.example.com" });
      statuses.push(ws.status);
      ws.close();
    }
    assert.deepEqual(statuses, [101, 101, 101, 429]);
  } finally {
    await limited.close();
  }
});
