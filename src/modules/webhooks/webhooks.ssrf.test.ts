// Attack: server-side request forgery through an outbound webhook URL (loopback, private network, cloud metadata, DNS rebinding).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { startApp, testSecrets, testStore } from "../../../test/harness.js";
import { register } from "../../../test/identity.js";
import { signedInAdmin } from "../../../test/webhooks.js";
import { parseKeyring } from "../../core/crypto/index.js";
import { send } from "./delivery.js";
import { createWebhookService, isPrivateAddress } from "./index.js";

test("addresses: loopback, private, link-local, CGNAT, unique-local and metadata are not public", () => {
  for (const address of [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:169.254.169.254",
    "64:ff9b::10.0.0.1",
    "not-an-ip",
  ])
    assert.equal(isPrivateAddress(address), true, address);
  for (const address of ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
    assert.equal(isPrivateAddress(address), false, address);
  }
});

test("registration refuses non-http(s) URLs, credentials in URLs and private literals; admins only", async () => {
  const t = await startApp();
  try {
    const admin = { authorization: (await signedInAdmin(t.app)).authorization };
    let i = 0;
    for (const url of [
      "file:///etc/passwd",
      "gopher://example.com/",
      "ftp://example.com/",
      "javascript:alert(1)",
      "not a url",
      "https://user:pass@example.com/hook",
      "http://127.0.0.1:8080/",
      "http://[::1]/",
      "http://169.254.169.254/latest/meta-data/",
      "http://[fd00:ec2::254]/",
      "http://localhost:3000/",
      "http://10.1.2.3/",
      "http://0x7f000001/",
    ]) {
      // Endpoint creation is in the `sensitive` rate class: move past its window now and then.
      if (++i % 5 === 0) t.clock.advance(61_000);
      const res = await t.app.inject({
        method: "POST",
        url: "/api/admin/webhook-endpoints",
        headers: admin,
        payload: { url, events: ["user.created"] },
      });
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.equal(res.json().error.code, "invalid_request");
    }
    const unknownEvent = await t.app.inject({
      method: "POST",
      url: "/api/admin/webhook-endpoints",
      headers: admin,
      payload: { url: "https://example.com/hook", events: ["user.deleted"] },
    });
    assert.equal(unknownEvent.statusCode, 400);
    const ok = await t.app.inject({
      method: "POST",
      url: "/api/admin/webhook-endpoints",
      headers: admin,
      payload: { url: "https://example.com/hook", events: ["user.created"] },
    });
    assert.equal(ok.statusCode, 201, ok.body);
    assert.equal(
      (
        await t.app.inject({
          method: "POST",
          url: "/api/admin/webhook-endpoints",
          payload: { url: "https://example.com/h", events: ["user.created"] },
        })
      ).statusCode,
      401,
    );
  } finally {
    await t.close();
  }
});

test("production accepts only https endpoints", async () => {
  const t = await startApp();
  try {
    const service = createWebhookService({
      db: t.store.db,
      clock: t.clock,
      audit: t.app.bulwark.audit,
      accounts: t.app.bulwark.accounts,
      keyring: parseKeyring(t.config.encryptionKeys),
      config: { ...t.config.webhooks, production: true },
    });
    await assert.rejects(
      service.createEndpoint(
        { url: "http://example.com/hook", events: ["user.created"] },
        { userId: null, ip: null, userAgent: null },
      ),
      /https/,
    );
    const created = await service.createEndpoint(
      { url: "https://example.com/hook", events: ["user.created"] },
      { userId: null, ip: null, userAgent: null },
    );
    assert.match(created.secret, /^whsec_/);
  } finally {
    await t.close();
  }
});

test("at delivery time, a name that resolves to a private address is refused by default (checked after DNS resolution)", async () => {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const store = await testStore();
  const env = testSecrets();
  // Registered while private targets were allowed (a name passes registration: only delivery resolves it)...
  const permissive = await startApp({ env: { ...env, WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" }, store });
  let adminHeader: { authorization: string };
  let endpointId: string;
  try {
    adminHeader = { authorization: (await signedInAdmin(permissive.app)).authorization };
    const res = await permissive.app.inject({
      method: "POST",
      url: "/api/admin/webhook-endpoints",
      headers: adminHeader,
      payload: { url: `http://localhost:${port}/hook`, events: ["user.created"] },
    });
    assert.equal(res.statusCode, 201, res.body);
    endpointId = res.json().id;
    // The admin's own registration queued a delivery here too; it is not sent by this instance.
  } finally {
    await permissive.close();
  }
  // ...then delivered by an instance with the default setting: localhost resolves to loopback, refused.
  const strict = await startApp({ env, store, clock: permissive.clock });
  try {
    await register(strict.app);
    const attempted = await strict.app.bulwark.webhooks.runDue();
    assert.ok(attempted >= 1);
    assert.equal(hits, 0, "no request reached the private address");
    const admin = { authorization: (await signedInAdmin(strict.app)).authorization };
    const log = (
      await strict.app.inject({
        method: "GET",
        url: `/api/admin/webhook-endpoints/${endpointId}/deliveries`,
        headers: admin,
      })
    ).json().deliveries;
    assert.ok(log.length >= 1);
    for (const d of log.filter((x: { attempts: number }) => x.attempts > 0)) {
      assert.equal(d.last_error, "target address refused (not public)");
      assert.equal(d.last_status_code, null);
      assert.equal(d.status, "pending", "retried later: DNS may change back");
    }
  } finally {
    await strict.close();
    await store.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("the sender refuses private literals itself and gives up on a receiver that does not answer in time", async () => {
  assert.deepEqual(await send("http://127.0.0.1:9/", {}, "{}", { allowPrivate: false }), {
    statusCode: null,
    error: "target address refused (not public)",
  });
  assert.deepEqual(await send("http://[::ffff:169.254.169.254]/", {}, "{}", { allowPrivate: false }), {
    statusCode: null,
    error: "target address refused (not public)",
  });
  assert.equal((await send("file:///etc/passwd", {}, "{}", { allowPrivate: true })).error, "unsupported scheme");
  const sockets = new Set<import("node:net").Socket>();
  const silent = createServer(() => {
    /* never answers */
  });
  silent.on("connection", (s) => sockets.add(s));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const { port } = silent.address() as AddressInfo;
  try {
    // The production timeout is 10 s; a short one here exercises the same path.
    const result = await send(`http://127.0.0.1:${port}/`, {}, "{}", { allowPrivate: true, timeoutMs: 200 });
    assert.equal(result.statusCode, null);
    assert.match(result.error ?? "", /timed out/);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});
