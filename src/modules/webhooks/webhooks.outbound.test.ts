// Outbound security events: signed per Standard Webhooks, verified by a real receiver, queued durably and retried with back-off.
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { startApp, storeUrl, testConfig, testPubSub, testSecrets, testStore } from "../../../test/harness.js";
import { createApp } from "../../app.js";
import { openStore } from "../../store/db.js";
import { bearer, goodPassword, login, register, signedIn } from "../../../test/identity.js";
import { signedInAdmin, standardSecret } from "../../../test/webhooks.js";
import { createFakeClock } from "../../core/clock.js";
import { rowsOf } from "../../store/db.js";
import { MAX_ATTEMPTS, RETRY_SCHEDULE_SECONDS } from "./index.js";

type Received = { headers: IncomingHttpHeaders; body: string };

/** A receiver on a real local port; `status` decides each answer. */
async function receiver(
  status: (n: number) => number | { status: number; headers: Record<string, string> } = () => 204,
): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const answer = status(got.length);
      if (typeof answer === "number") res.writeHead(answer).end();
      else res.writeHead(answer.status, answer.headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}/hooks`,
    got,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Verifies a delivery the way a consumer would, with the official package. */
function verified(secret: string, r: Received): { type: string; timestamp: string; data: Record<string, unknown> } {
  return new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as {
    type: string;
    timestamp: string;
    data: Record<string, unknown>;
  };
}

const ALLOW = { WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" };

test("a receiver on a real port verifies Bulwark's deliveries with the standardwebhooks package; the secret is shown once and stored encrypted", async () => {
  const hook = await receiver();
  // The receiver checks timestamps against the real time.
  const t = await startApp({ env: ALLOW, clock: createFakeClock(Date.now()) });
  try {
    const admin = { authorization: (await signedInAdmin(t.app)).authorization };
    const created = await t.app.inject({
      method: "POST",
      url: "/api/admin/webhook-endpoints",
      headers: admin,
      payload: { url: hook.url, events: ["user.created", "auth.lockout", "session.revoked"] },
    });
    assert.equal(created.statusCode, 201, created.body);
    const endpoint = created.json();
    assert.deepEqual(Object.keys(endpoint).sort(), ["events", "id", "secret", "url"]);
    assert.match(endpoint.secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
    assert.ok(Buffer.from(endpoint.secret.slice(6), "base64").length >= 24);

    const listed = await t.app.inject({ method: "GET", url: "/api/admin/webhook-endpoints", headers: admin });
    assert.equal(listed.statusCode, 200);
    assert.equal(listed.json().endpoints.length, 1);
    assert.ok(!listed.body.includes(endpoint.secret.slice(6)), "the secret is shown once");
    const stored = rowsOf<{ secret_enc: string }>(
      await t.store.db.execute(sql`select secret_enc from webhook_endpoints`),
    )[0]!.secret_enc;
    assert.match(stored, /^bw1\./);
    assert.ok(!stored.includes(endpoint.secret.slice(6)));
    const everything = rowsOf<{ text: string }>(
      await t.store.db.execute(sql`select string_agg(metadata::text, ' ') as text from audit_logs`),
    )[0]!.text;
    assert.ok(!everything.includes(endpoint.secret.slice(6)), "the secret is not in the audit log");

    // A new account: user.created; a lockout (recorded as denied): auth.lockout; a profile edit: nothing.
    const user = await register(t.app);
    for (let i = 0; i < 5; i++)
      assert.equal(
        (await login(t.app, { username: user.username, password: "wrong password entirely" })).statusCode,
        401,
      );
    assert.equal(await t.app.bulwark.webhooks.runDue(), 2);
    assert.equal(hook.got.length, 2);
    const events = hook.got.map((r) => verified(endpoint.secret, r));
    assert.deepEqual(events.map((e) => e.type).sort(), ["auth.lockout", "user.created"]);
    const createdEvent = events.find((e) => e.type === "user.created")!;
    assert.equal(createdEvent.data.user_id, user.userId);
    assert.equal(createdEvent.data.audit_event_type, "user.register");
    // Each delivery has its own id; a forged or re-signed body fails verification.
    assert.notEqual(hook.got[0]!.headers["webhook-id"], hook.got[1]!.headers["webhook-id"]);
    assert.throws(() =>
      new Webhook(standardSecret()).verify(hook.got[0]!.body, hook.got[0]!.headers as Record<string, string>),
    );
    assert.throws(() =>
      verified(endpoint.secret, { headers: hook.got[0]!.headers, body: hook.got[0]!.body.replace("user", "usr") }),
    );
    assert.equal(events.find((e) => e.type === "auth.lockout")!.data.user_id, user.userId);
    // Nothing more is due: sent once.
    assert.equal(await t.app.bulwark.webhooks.runDue(), 0);
    assert.equal(hook.got.length, 2);

    // A user ends their other sessions: session.revoked names that user; a password change is not subscribed.
    const member = await signedIn(t.app);
    hook.got.length = 0;
    const revoke = await t.app.inject({ method: "DELETE", url: "/api/sessions", headers: bearer(member.access) });
    assert.equal(revoke.statusCode, 204, revoke.body);
    const change = await t.app.inject({
      method: "POST",
      url: "/api/users/me/password",
      headers: bearer(member.access),
      payload: { current_password: member.password, new_password: goodPassword() },
    });
    assert.equal(change.statusCode, 204, change.body);
    await t.app.bulwark.webhooks.runDue();
    assert.deepEqual(hook.got.map((r) => verified(endpoint.secret, r).type).sort(), [
      "session.revoked",
      "user.created",
    ]);
    const revoked = hook.got.map((r) => verified(endpoint.secret, r)).find((e) => e.type === "session.revoked")!;
    assert.equal(revoked.data.user_id, member.userId);

    const log = await t.app.inject({
      method: "GET",
      url: `/api/admin/webhook-endpoints/${endpoint.id}/deliveries`,
      headers: admin,
    });
    assert.equal(log.statusCode, 200, log.body);
    assert.equal(log.json().deliveries.length, 4);
    for (const d of log.json().deliveries) {
      assert.equal(d.status, "delivered");
      assert.equal(d.log.length, 1);
      assert.equal(d.log[0].status_code, 204);
    }

    // Deleting the endpoint stops new deliveries.
    assert.equal(
      (await t.app.inject({ method: "DELETE", url: `/api/admin/webhook-endpoints/${endpoint.id}`, headers: admin }))
        .statusCode,
      204,
    );
    assert.equal(
      (await t.app.inject({ method: "DELETE", url: `/api/admin/webhook-endpoints/${endpoint.id}`, headers: admin }))
        .statusCode,
      404,
    );
    await register(t.app);
    assert.equal(await t.app.bulwark.webhooks.runDue(), 0);
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/admin/webhook-endpoints", headers: admin })).json().endpoints
        .length,
      0,
    );
  } finally {
    await t.close();
    await hook.close();
  }
});

test("a receiver answering 500 is retried with back-off, and a restart does not lose the queued delivery", async () => {
  let failing = true;
  const hook = await receiver(() => (failing ? 500 : 200));
  const store = await testStore();
  // Starts in the past so that after the back-off the receiver's real-time tolerance check passes.
  const clock = createFakeClock(Date.now() - (RETRY_SCHEDULE_SECONDS[0] + RETRY_SCHEDULE_SECONDS[1]) * 1000);
  // The same keyring across the restart: the endpoint secret must still decrypt.
  const env = { ...ALLOW, ...testSecrets() };
  let t = await startApp({ env, store, clock });
  try {
    const adminUser = await signedInAdmin(t.app);
    const admin = { authorization: adminUser.authorization };
    const endpoint = (
      await t.app.inject({
        method: "POST",
        url: "/api/admin/webhook-endpoints",
        headers: admin,
        payload: { url: hook.url, events: ["user.created"] },
      })
    ).json();
    const user = await register(t.app);
    assert.equal(await t.app.bulwark.webhooks.runDue(), 1);
    assert.equal(hook.got.length, 1);
    const deliveries = async () =>
      (
        await t.app.inject({
          method: "GET",
          url: `/api/admin/webhook-endpoints/${endpoint.id}/deliveries`,
          headers: admin,
        })
      ).json().deliveries;
    let [d] = await deliveries();
    assert.equal(d.status, "pending");
    assert.equal(d.attempts, 1);
    assert.equal(d.last_status_code, 500);
    assert.equal(Date.parse(d.next_attempt_at) - clock.now(), RETRY_SCHEDULE_SECONDS[0] * 1000);

    // Not due yet: nothing is sent.
    clock.advance(RETRY_SCHEDULE_SECONDS[0] * 1000 - 1);
    assert.equal(await t.app.bulwark.webhooks.runDue(), 0);
    clock.advance(1);
    assert.equal(await t.app.bulwark.webhooks.runDue(), 1);
    assert.equal(hook.got.length, 2);
    [d] = await deliveries();
    assert.equal(d.attempts, 2);
    assert.equal(Date.parse(d.next_attempt_at) - clock.now(), RETRY_SCHEDULE_SECONDS[1] * 1000);

    // Restart: a new app on the same database finds the queued delivery.
    await t.close();
    t = await startApp({ env, store, clock });
    // The same admin signs in again (a new account would queue a user.created of its own).
    const again = await login(t.app, adminUser);
    const admin2 = { authorization: `Bearer ${again.json().access_token as string}` };
    failing = false;
    clock.advance(RETRY_SCHEDULE_SECONDS[1] * 1000);
    assert.equal(await t.app.bulwark.webhooks.runDue(), 1);
    assert.equal(hook.got.length, 3);
    // Same webhook-id on every attempt, so the receiver can de-duplicate; a fresh timestamp each time.
    assert.equal(new Set(hook.got.map((r) => r.headers["webhook-id"])).size, 1);
    const event = verified(endpoint.secret, hook.got[2]!);
    assert.equal(event.data.user_id, user.userId);
    const log = (
      await t.app.inject({
        method: "GET",
        url: `/api/admin/webhook-endpoints/${endpoint.id}/deliveries`,
        headers: admin2,
      })
    ).json().deliveries;
    assert.equal(log[0].status, "delivered");
    assert.deepEqual(
      log[0].log.map((a: { status_code: number }) => a.status_code),
      [500, 500, 200],
    );
  } finally {
    await t.close();
    await store.close();
    await hook.close();
  }
});

test("a receiver that never succeeds gets at least six attempts over about a day, then the delivery is marked failed; redirects are not followed", async () => {
  const target = await receiver(() => 200);
  const hook = await receiver(() => ({ status: 302, headers: { location: target.url } }));
  const clock = createFakeClock(Date.now());
  const t = await startApp({ env: ALLOW, clock });
  try {
    const adminUser = await signedInAdmin(t.app);
    const admin = { authorization: adminUser.authorization };
    const endpoint = (
      await t.app.inject({
        method: "POST",
        url: "/api/admin/webhook-endpoints",
        headers: admin,
        payload: { url: hook.url, events: ["user.created"] },
      })
    ).json();
    await register(t.app);
    const start = clock.now();
    let attempts = 0;
    for (let i = 0; i < 48 && attempts < MAX_ATTEMPTS; i++) {
      attempts += await t.app.bulwark.webhooks.runDue();
      clock.advance(3_600_000);
    }
    assert.ok(MAX_ATTEMPTS >= 6);
    assert.equal(attempts, MAX_ATTEMPTS);
    assert.equal(hook.got.length, MAX_ATTEMPTS);
    assert.equal(target.got.length, 0, "the redirect was not followed");
    // A day later the admin's access token has expired: sign in again.
    const relogin = { authorization: `Bearer ${(await login(t.app, adminUser)).json().access_token as string}` };
    const [d] = (
      await t.app.inject({
        method: "GET",
        url: `/api/admin/webhook-endpoints/${endpoint.id}/deliveries`,
        headers: relogin,
      })
    ).json().deliveries;
    assert.equal(d.status, "failed");
    assert.equal(d.attempts, MAX_ATTEMPTS);
    assert.equal(d.last_status_code, 302);
    const span = Date.parse(d.log.at(-1).at) - Date.parse(d.log[0].at);
    assert.ok(span >= 20 * 3_600_000 && span <= 36 * 3_600_000, `attempts spread over ${span / 3_600_000} h`);
    assert.ok(clock.now() - start > 0);
    clock.advance(7 * 24 * 3_600_000);
    assert.equal(await t.app.bulwark.webhooks.runDue(), 0);
  } finally {
    await t.close();
    await hook.close();
    await target.close();
  }
});

test("several instances draining one queue at once send each delivery once (FOR UPDATE SKIP LOCKED)", async () => {
  const hook = await receiver();
  const store = await testStore();
  // On PostgreSQL each instance gets its own pool; PGlite is one process's database, shared here.
  const url = storeUrl(store);
  const second = url ? await openStore({ databaseUrl: url }) : store;
  const clock = createFakeClock(Date.now());
  const env = { ...ALLOW, ...testSecrets() };
  const a = await startApp({ env, store, clock });
  const b = await startApp({ env, store: second, clock });
  try {
    const admin = { authorization: (await signedInAdmin(a.app)).authorization };
    const res = await a.app.inject({
      method: "POST",
      url: "/api/admin/webhook-endpoints",
      headers: admin,
      payload: { url: hook.url, events: ["user.created"] },
    });
    assert.equal(res.statusCode, 201);
    for (let i = 0; i < 6; i++) await register(i % 2 ? a.app : b.app);
    const counts = await Promise.all([
      a.app.bulwark.webhooks.runDue(),
      b.app.bulwark.webhooks.runDue(),
      a.app.bulwark.webhooks.runDue(),
      b.app.bulwark.webhooks.runDue(),
    ]);
    assert.equal(
      counts.reduce((x, y) => x + y, 0),
      6,
    );
    assert.equal(hook.got.length, 6);
    assert.equal(new Set(hook.got.map((r) => r.headers["webhook-id"])).size, 6);
  } finally {
    await a.close();
    await b.close();
    if (second !== store) await second.close();
    await store.close();
    await hook.close();
  }
});

test("the delivery worker starts with the app and stops on close", async () => {
  const config = testConfig();
  const store = await testStore();
  const pubsub = testPubSub(`bwtest:${Date.now()}`);
  try {
    const app = await createApp(config, { store, migrate: false, webhookWorker: true, pubsub });
    await app.ready();
    assert.equal(await app.bulwark.webhooks.runDue(), 0);
    await app.close();
  } finally {
    await pubsub.close();
    await store.close();
  }
});
