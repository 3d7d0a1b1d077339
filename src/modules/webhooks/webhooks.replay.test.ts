// Attack: replayed and concurrently re-delivered webhooks (an event credited twice); handler failures must not lose events.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { sql } from "drizzle-orm";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import {
  postStripe,
  signedInAdmin,
  standardHeaders,
  standardSecret,
  stripeEvent,
  stripeSecret,
} from "../../../test/webhooks.js";
import { errors } from "../../core/errors.js";
import { rowsOf } from "../../store/db.js";

const now = (t: TestApp) => Math.floor(t.clock.now() / 1000);

test("a repeated event id is handled once, sequentially and under concurrent delivery", async () => {
  const secret = stripeSecret();
  const calls: string[] = [];
  const t = await startApp({
    env: { STRIPE_WEBHOOK_SECRET: secret },
    extend: (app) => {
      app.bulwark.webhooks.onWebhook("stripe", "invoice.paid", async (event, tx) => {
        calls.push(event.id);
        // Writes go through the handler's transaction.
        await tx.execute(sql`select 1`);
      });
    },
  });
  try {
    const e = stripeEvent("invoice.paid", { id: "in_1" });
    const first = await postStripe(t.app, e.body, secret, now(t));
    assert.deepEqual(first.json(), { received: true });
    const again = await postStripe(t.app, e.body, secret, now(t));
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json(), { received: true, duplicate: true });
    assert.deepEqual(calls, [e.id]);

    const c = stripeEvent("invoice.paid", { id: "in_2" });
    const results = await Promise.all(Array.from({ length: 8 }, () => postStripe(t.app, c.body, secret, now(t))));
    assert.ok(
      results.every((r) => r.statusCode === 200),
      results.map((r) => r.body).join("\n"),
    );
    assert.equal(results.filter((r) => r.json().duplicate !== true).length, 1);
    assert.deepEqual(calls, [e.id, c.id]);
    const metrics = await t.app.bulwark.metrics.registry.metrics();
    assert.match(metrics, /bulwark_webhook_events_total\{source="stripe",outcome="accepted"\} 2/);
    assert.match(metrics, /bulwark_webhook_events_total\{source="stripe",outcome="duplicate"\} 8/);
    const rows = rowsOf<{ n: number }>(
      await t.store.db.execute(sql`select count(*)::int as n from webhook_events where event_id = ${c.id}`),
    );
    assert.equal(rows[0]!.n, 1);
  } finally {
    await t.close();
  }
});

test("Standard Webhooks: the same webhook-id is handled once per source", async () => {
  const secret = standardSecret();
  let calls = 0;
  const t = await startApp({
    env: { WEBHOOK_SECRET_ACME: secret },
    extend: (app) =>
      app.bulwark.webhooks.onWebhook("acme", "*", () => {
        calls++;
      }),
  });
  try {
    const body = JSON.stringify({ type: "thing.happened", data: {} });
    const id = `msg_${randomBytes(6).toString("hex")}`;
    const send = () =>
      t.app.inject({
        method: "POST",
        url: "/api/webhooks/acme",
        payload: body,
        headers: { "content-type": "application/json", ...standardHeaders(secret, id, now(t), body) },
      });
    const results = await Promise.all([send(), send(), send()]);
    assert.deepEqual(
      results.map((r) => r.statusCode),
      [200, 200, 200],
    );
    assert.equal(results.filter((r) => r.json().duplicate).length, 2);
    assert.equal(calls, 1);
  } finally {
    await t.close();
  }
});

test("a throwing handler answers 500 and records the error; the provider's retry runs the handler again", async () => {
  const secret = stripeSecret();
  let fail = true;
  const seen: string[] = [];
  const t = await startApp({
    env: { STRIPE_WEBHOOK_SECRET: secret },
    extend: (app) => {
      app.bulwark.webhooks.onWebhook("stripe", "customer.*", async (event, tx) => {
        seen.push(event.type);
        // This write rolls back with the failure.
        await tx.execute(sql`update webhook_events set type = 'changed-by-handler' where event_id = ${event.id}`);
        // An AppError (a 4xx elsewhere) still makes this a 500: the provider must retry.
        if (fail) throw errors.conflict("ledger unavailable");
      });
    },
  });
  try {
    const admin = { authorization: (await signedInAdmin(t.app)).authorization };
    const e = stripeEvent("customer.updated", {});
    const res = await postStripe(t.app, e.body, secret, now(t));
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().error.code, "internal_error");
    assert.doesNotMatch(res.body, /ledger/);
    const failed = await t.app.inject({
      method: "GET",
      url: "/api/admin/webhooks/events?status=failed",
      headers: admin,
    });
    assert.equal(failed.statusCode, 200, failed.body);
    const [row] = failed.json().events;
    assert.equal(row.event_id, e.id);
    assert.equal(row.type, "customer.updated");
    assert.equal(row.attempts, 1);
    assert.equal(row.last_error, "ledger unavailable");

    fail = false;
    const retry = await postStripe(t.app, e.body, secret, now(t));
    assert.deepEqual(retry.json(), { received: true });
    assert.deepEqual(seen, ["customer.updated", "customer.updated"]);
    const done = (
      await t.app.inject({ method: "GET", url: "/api/admin/webhooks/events?source=stripe", headers: admin })
    ).json().events;
    assert.equal(done.length, 1);
    assert.equal(done[0].status, "processed");
    assert.equal(done[0].attempts, 2);
    assert.equal(done[0].last_error, null);
    // Only now is it a duplicate.
    assert.equal((await postStripe(t.app, e.body, secret, now(t))).json().duplicate, true);
    assert.equal(seen.length, 2);
  } finally {
    await t.close();
  }
});

test("admin events: filters, cursor pagination, admins only", async () => {
  const secret = stripeSecret();
  const t = await startApp({ env: { STRIPE_WEBHOOK_SECRET: secret } });
  try {
    const admin = { authorization: (await signedInAdmin(t.app)).authorization };
    const user = await signedIn(t.app);
    for (let i = 0; i < 5; i++) {
      t.clock.advance(1000);
      const e = stripeEvent("invoice.paid", { n: i });
      assert.equal((await postStripe(t.app, e.body, secret, now(t))).statusCode, 200);
    }
    assert.equal((await t.app.inject({ method: "GET", url: "/api/admin/webhooks/events" })).statusCode, 401);
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/admin/webhooks/events", headers: bearer(user.access) }))
        .statusCode,
      403,
    );
    const page1 = (
      await t.app.inject({ method: "GET", url: "/api/admin/webhooks/events?limit=3", headers: admin })
    ).json();
    assert.equal(page1.events.length, 3);
    assert.ok(page1.next_cursor);
    const page2 = (
      await t.app.inject({
        method: "GET",
        url: `/api/admin/webhooks/events?limit=3&cursor=${page1.next_cursor}`,
        headers: admin,
      })
    ).json();
    assert.equal(page2.events.length, 2);
    assert.equal(page2.next_cursor, null);
    const ids = [...page1.events, ...page2.events].map((e: { id: string }) => e.id);
    assert.deepEqual(ids, [...ids].sort().reverse());
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/admin/webhooks/events?source=other", headers: admin })).json()
        .events.length,
      0,
    );
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/admin/webhooks/events?status=failed", headers: admin })).json()
        .events.length,
      0,
    );
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/admin/webhooks/events?cursor=nope", headers: admin })).statusCode,
      400,
    );
    assert.equal(
      (await t.app.inject({ method: "GET", url: "/api/admin/webhooks/events?status=weird", headers: admin }))
        .statusCode,
      400,
    );
  } finally {
    await t.close();
  }
});

test("billing: checkout and subscription events set the user's plan, visible in /api/users/me", async () => {
  const secret = stripeSecret();
  const t = await startApp({ env: { STRIPE_WEBHOOK_SECRET: secret } });
  try {
    const user = await signedIn(t.app);
    const me = async () =>
      (await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(user.access) })).json().user;
    assert.equal((await me()).plan, null);

    const checkout = stripeEvent("checkout.session.completed", {
      object: "checkout.session",
      metadata: { bulwark_user_id: user.userId, bulwark_plan: "pro" },
    });
    assert.equal((await postStripe(t.app, checkout.body, secret, now(t))).statusCode, 200);
    assert.equal((await me()).plan, "pro");

    const updated = stripeEvent("customer.subscription.updated", {
      object: "subscription",
      status: "active",
      metadata: { bulwark_user_id: user.userId },
      items: { object: "list", data: [{ price: { id: "price_123", lookup_key: "team_monthly" } }] },
    });
    assert.equal((await postStripe(t.app, updated.body, secret, now(t))).statusCode, 200);
    assert.equal((await me()).plan, "team_monthly");

    const deleted = stripeEvent("customer.subscription.deleted", {
      object: "subscription",
      status: "canceled",
      metadata: { bulwark_user_id: user.userId },
    });
    assert.equal((await postStripe(t.app, deleted.body, secret, now(t))).statusCode, 200);
    assert.equal((await me()).plan, null);

    // An event naming nobody, or an unknown user, changes nothing and is still acknowledged.
    const nobody = stripeEvent("checkout.session.completed", { metadata: { bulwark_user_id: "no-such-user" } });
    assert.equal((await postStripe(t.app, nobody.body, secret, now(t))).statusCode, 200);
    // The plan cannot be set by the user (mass assignment).
    const patch = await t.app.inject({
      method: "PATCH",
      url: "/api/users/me",
      headers: bearer(user.access),
      payload: { plan: "enterprise" },
    });
    assert.equal(patch.statusCode, 400);
  } finally {
    await t.close();
  }
});
