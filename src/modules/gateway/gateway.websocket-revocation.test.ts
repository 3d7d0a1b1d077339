// Attack: a WebSocket tunnel through the gateway outlives the credentials that opened it — after
// logout, a session revocation, the user disabled, or (under an admin rule) the admin role taken
// away, the tunnel keeps carrying the user's traffic to the upstream.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { startGateway, startUpstream, STANDARD_RULES, type Upstream } from "../../../test/gateway.js";
import type { TestApp } from "../../../test/harness.js";
import { bearer, login, signedIn, type SignedIn } from "../../../test/identity.js";

const RULES = `${STANDARD_RULES}
  - name: ops
    prefix: /ops-live
    methods: [GET]
    auth: admin
    websocket: true
`;
const env = { SENSITIVE_PER_MINUTE: "1000", AUTH_LOGIN_PER_MINUTE: "1000", AUTH_REGISTER_PER_MINUTE: "1000" };

let upstream: Upstream;
let t: TestApp & { base: string; secret: string };
before(async () => {
  upstream = await startUpstream();
  t = await startGateway(upstream, { rules: RULES, env });
});
after(async () => {
  await t.close();
  await upstream.close();
});

type Tunnel = { exchange(message: string): Promise<string>; closed: Promise<void>; close(): void };

/** Opens a tunnel with a bearer access token; asserts the upgrade succeeded. */
async function tunnel(path: string, access: string): Promise<Tunnel> {
  const port = Number(new URL(t.base).port);
  const socket: Socket = connect(port, "127.0.0.1");
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => undefined);
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Connection: Upgrade",
    "Upgrade: websocket",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    `Authorization: Bearer ${access}`,
  ];
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  const head = await new Promise<string>((resolve) => {
    let buffer = "";
    const onData = (d: Buffer) => {
      buffer += d.toString();
      if (buffer.includes("\r\n\r\n")) {
        socket.off("data", onData);
        resolve(buffer);
      }
    };
    socket.on("data", onData);
  });
  assert.match(head, /^HTTP\/1\.1 101/, head);
  return {
    exchange(message) {
      socket.write(message);
      return new Promise((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString())));
    },
    closed,
    close: () => socket.destroy(),
  };
}

async function admin(): Promise<SignedIn> {
  const user = await signedIn(t.app);
  await t.app.bulwark.accounts.promote(user.username, { userId: null });
  return user;
}

test("logging out or revoking the session closes its tunnel; another session's tunnel stays", async () => {
  const ada = await signedIn(t.app);
  const other = (await login(t.app, ada)).json();
  const mine = await tunnel("/live/feed", ada.access);
  const theirs = await tunnel("/live/feed", other.access_token as string);
  assert.equal(await mine.exchange("a"), `echo:${ada.userId}:a`);
  const revoked = await t.app.inject({
    method: "DELETE",
    url: `/api/sessions/${other.session_id as string}`,
    headers: bearer(ada.access),
  });
  assert.equal(revoked.statusCode, 204);
  await theirs.closed;
  assert.equal(await mine.exchange("b"), `echo:${ada.userId}:b`, "the other session's tunnel stays");
  assert.equal(
    (await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: bearer(ada.access) })).statusCode,
    204,
  );
  await mine.closed;
});

test("disabling the user closes every tunnel of theirs", async () => {
  const root = await admin();
  const ada = await signedIn(t.app);
  const open = await tunnel("/live/feed", ada.access);
  assert.equal(await open.exchange("x"), `echo:${ada.userId}:x`);
  const res = await t.app.inject({
    method: "POST",
    url: `/api/admin/users/${ada.userId}/disable`,
    headers: bearer(root.access),
  });
  assert.equal(res.statusCode, 204);
  await open.closed;
});

test("demoting an admin closes their tunnels under admin rules, not under user rules", async () => {
  const root = await admin();
  const ops = await admin();
  const adminTunnel = await tunnel("/ops-live/board", ops.access);
  const userTunnel = await tunnel("/live/feed", ops.access);
  assert.equal(await adminTunnel.exchange("1"), `echo:${ops.userId}:1`);
  const res = await t.app.inject({
    method: "POST",
    url: `/api/admin/users/${ops.userId}/demote`,
    headers: bearer(root.access),
  });
  assert.equal(res.statusCode, 200, res.body);
  await adminTunnel.closed;
  assert.equal(await userTunnel.exchange("2"), `echo:${ops.userId}:2`, "a user rule still admits a user");
  userTunnel.close();
});
