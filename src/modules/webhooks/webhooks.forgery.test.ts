// Attack: forged, tampered or replayed webhooks (wrong secret, edited body, stale or future timestamp, downgraded scheme).
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { test } from "node:test";
import { sql } from "drizzle-orm";
import { startApp, type TestApp } from "../../../test/harness.js";
import {
  postStripe,
  standardHeaders,
  standardSecret,
  stripeEvent,
  stripeHeader,
  stripeSecret,
} from "../../../test/webhooks.js";
import { rowsOf } from "../../store/db.js";

const now = (t: TestApp) => Math.floor(t.clock.now() / 1000);

async function rejections(t: TestApp): Promise<{ reason: string; source: string }[]> {
  const rows = rowsOf<{ metadata: { reason: string; source: string } }>(
    await t.store.db.execute(sql`select metadata from audit_logs where event_type = 'webhook.rejected' order by seq`),
  );
  return rows.map((r) => r.metadata);
}

async function storedEvents(t: TestApp): Promise<number> {
  return Number(
    rowsOf<{ n: number }>(await t.store.db.execute(sql`select count(*)::int as n from webhook_events`))[0]!.n,
  );
}

test("Stripe: a signature from the official SDK is accepted; every forgery gets 400 invalid_signature, audited with its reason, body not stored", async () => {
  const secret = stripeSecret();
  const t = await startApp({ env: { STRIPE_WEBHOOK_SECRET: secret } });
  try {
    const good = stripeEvent("invoice.paid", { id: "in_1", marker: "body-marker-do-not-store" });
    const ok = await postStripe(t.app, good.body, secret, now(t));
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { received: true });

    const cases: { name: string; body: string; header: string; reason: string }[] = [];
    const fresh = () => stripeEvent("invoice.paid", { id: "in_2", marker: "body-marker-do-not-store" });
    const e1 = fresh();
    cases.push({
      name: "tampered body",
      body: e1.body.replace("in_2", "in_3"),
      header: stripeHeader(e1.body, secret, now(t)),
      reason: "signature_mismatch",
    });
    const e2 = fresh();
    cases.push({
      name: "wrong secret",
      body: e2.body,
      header: stripeHeader(e2.body, stripeSecret(), now(t)),
      reason: "signature_mismatch",
    });
    const e3 = fresh();
    cases.push({
      name: "old timestamp",
      body: e3.body,
      header: stripeHeader(e3.body, secret, now(t) - 301),
      reason: "timestamp_too_old",
    });
    const e4 = fresh();
    cases.push({
      name: "future timestamp",
      body: e4.body,
      header: stripeHeader(e4.body, secret, now(t) + 301),
      reason: "timestamp_in_future",
    });
    const e5 = fresh();
    const v0 = createHmac("sha256", secret)
      .update(`${now(t)}.${e5.body}`)
      .digest("hex");
    cases.push({ name: "v0 only", body: e5.body, header: `t=${now(t)},v0=${v0}`, reason: "no_v1_signature" });
    const e6 = fresh();
    cases.push({ name: "missing header", body: e6.body, header: "", reason: "missing_header" });
    cases.push({ name: "no timestamp", body: e6.body, header: `v1=${"a".repeat(64)}`, reason: "malformed_header" });
    cases.push({ name: "garbage", body: e6.body, header: "not a signature", reason: "malformed_header" });
    cases.push({
      name: "two timestamps",
      body: e6.body,
      header: `${stripeHeader(e6.body, secret, now(t))},t=1`,
      reason: "malformed_header",
    });
    cases.push({ name: "v1 not hex", body: e6.body, header: `t=${now(t)},v1=zz`, reason: "no_v1_signature" });

    for (const c of cases) {
      const res =
        c.header === ""
          ? await t.app.inject({
              method: "POST",
              url: "/api/webhooks/stripe",
              payload: c.body,
              headers: { "content-type": "application/json" },
            })
          : await postStripe(t.app, c.body, secret, now(t), { header: c.header });
      assert.equal(res.statusCode, 400, `${c.name}: ${res.body}`);
      assert.equal(res.json().error.code, "invalid_signature", c.name);
      // One answer for every cause: the reason goes to the audit log only.
      assert.equal(res.json().error.message, "webhook signature, timestamp or format is invalid", c.name);
    }
    assert.deepEqual(
      (await rejections(t)).map((r) => r.reason),
      cases.map((c) => c.reason),
    );
    assert.ok((await rejections(t)).every((r) => r.source === "stripe"));
    assert.equal(await storedEvents(t), 1);
    const audit = rowsOf<{ text: string }>(
      await t.store.db.execute(
        sql`select string_agg(metadata::text || coalesce(target, ''), ' ') as text from audit_logs`,
      ),
    )[0]!.text;
    assert.doesNotMatch(audit, /body-marker-do-not-store/);
    assert.ok(!audit.includes(secret));
  } finally {
    await t.close();
  }
});

test("Stripe: signatures are checked over the raw bytes, never re-serialised JSON", async () => {
  const secret = stripeSecret();
  const t = await startApp({ env: { STRIPE_WEBHOOK_SECRET: secret } });
  try {
    // Odd spacing, unicode escapes and key order: any re-serialisation would change these bytes.
    const body = `{ "type":"invoice.paid",  "id":"evt_raw_${randomBytes(6).toString("hex")}", "data":{"object":{"name":"caf\\u00e9"}} }`;
    const res = await postStripe(t.app, body, secret, now(t));
    assert.equal(res.statusCode, 200, res.body);
    // A body sent as text/plain is still verified over its bytes (the raw parser covers any type).
    const again = await t.app.inject({
      method: "POST",
      url: "/api/webhooks/stripe",
      payload: body.replace("evt_raw_", "evt_txt_"),
      headers: {
        "content-type": "text/plain",
        "stripe-signature": stripeHeader(body.replace("evt_raw_", "evt_txt_"), secret, now(t)),
      },
    });
    assert.equal(again.statusCode, 200, again.body);
    // The rest of the app stays JSON-only.
    const other = await t.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: "login=a&password=b",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(other.statusCode, 415);
  } finally {
    await t.close();
  }
});

test("Stripe: rotation, either of two secrets signs; a header with several v1 values matches on any", async () => {
  const [oldSecret, newSecret] = [stripeSecret(), stripeSecret()];
  const t = await startApp({ env: { STRIPE_WEBHOOK_SECRET: `${newSecret}, ${oldSecret}` } });
  try {
    const a = stripeEvent("invoice.paid", {});
    assert.equal((await postStripe(t.app, a.body, oldSecret, now(t))).statusCode, 200);
    const b = stripeEvent("invoice.paid", {});
    assert.equal((await postStripe(t.app, b.body, newSecret, now(t))).statusCode, 200);
    // During Stripe's own rotation a header carries one v1 per secret.
    const c = stripeEvent("invoice.paid", {});
    const other = stripeHeader(c.body, stripeSecret(), now(t)).split(",")[1];
    const res = await postStripe(t.app, c.body, oldSecret, now(t), {
      header: `${other},${stripeHeader(c.body, oldSecret, now(t))}`,
    });
    assert.equal(res.statusCode, 200, res.body);
    const d = stripeEvent("invoice.paid", {});
    assert.equal((await postStripe(t.app, d.body, stripeSecret(), now(t))).statusCode, 400);
  } finally {
    await t.close();
  }
});

test("Stripe: the route is 404 without STRIPE_WEBHOOK_SECRET; an oversized body is 413", async () => {
  const t = await startApp();
  try {
    const e = stripeEvent("invoice.paid", {});
    const res = await postStripe(t.app, e.body, stripeSecret(), now(t));
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, "not_found");
  } finally {
    await t.close();
  }
  const secret = stripeSecret();
  const small = await startApp({ env: { STRIPE_WEBHOOK_SECRET: secret, WEBHOOK_MAX_BODY_BYTES: "2048" } });
  try {
    const big = stripeEvent("invoice.paid", { filler: "x".repeat(4096) });
    const res = await postStripe(small.app, big.body, secret, now(small));
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().error.code, "payload_too_large");
  } finally {
    await small.close();
  }
});

test("Standard Webhooks: the standardwebhooks package's signatures are accepted; forgeries refused; rotation; unknown source 404", async () => {
  const [secret, previous] = [standardSecret(), standardSecret()];
  const t = await startApp({ env: { WEBHOOK_SECRET_ACME_BILLING: `${secret},${previous}` } });
  try {
    const url = "/api/webhooks/acme-billing";
    const body = JSON.stringify({
      type: "invoice.created",
      timestamp: new Date(t.clock.now()).toISOString(),
      data: { id: "inv_1" },
    });
    const post = (headers: Record<string, string>, payload = body) =>
      t.app.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", ...headers } });
    const id = () => `msg_${randomBytes(8).toString("hex")}`;

    const ok = await post(standardHeaders(secret, id(), now(t), body));
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { received: true });
    assert.equal(
      (await post(standardHeaders(previous, id(), now(t), body))).statusCode,
      200,
      "rotation: the second secret signs too",
    );

    const refused: [string, Record<string, string>, string?][] = [];
    const h = standardHeaders(secret, id(), now(t), body);
    refused.push(["tampered body", h, body.replace("inv_1", "inv_2")]);
    refused.push(["wrong secret", standardHeaders(standardSecret(), id(), now(t), body)]);
    refused.push(["old timestamp", standardHeaders(secret, id(), now(t) - 301, body)]);
    refused.push(["future timestamp", standardHeaders(secret, id(), now(t) + 301, body)]);
    const { "webhook-signature": _s, ...noSignature } = standardHeaders(secret, id(), now(t), body);
    refused.push(["missing signature", noSignature]);
    const { "webhook-id": _i, ...noId } = standardHeaders(secret, id(), now(t), body);
    refused.push(["missing id", noId]);
    const { "webhook-timestamp": _t, ...noTimestamp } = standardHeaders(secret, id(), now(t), body);
    refused.push(["missing timestamp", noTimestamp]);
    refused.push([
      "malformed timestamp",
      { ...standardHeaders(secret, id(), now(t), body), "webhook-timestamp": "soon" },
    ]);
    const signed = standardHeaders(secret, id(), now(t), body);
    refused.push([
      "other version only",
      { ...signed, "webhook-signature": signed["webhook-signature"]!.replace("v1,", "v0,") },
    ]);
    refused.push(["id changed after signing", { ...signed, "webhook-id": id() }]);
    for (const [name, headers, payload] of refused) {
      const res = await post(headers, payload);
      assert.equal(res.statusCode, 400, `${name}: ${res.body}`);
      assert.equal(res.json().error.code, "invalid_signature", name);
    }
    assert.deepEqual(
      (await rejections(t)).map((r) => r.reason),
      [
        "signature_mismatch",
        "signature_mismatch",
        "timestamp_too_old",
        "timestamp_in_future",
        "missing_header",
        "missing_header",
        "missing_header",
        "malformed_header",
        "no_v1_signature",
        "signature_mismatch",
      ],
    );
    // Several signatures, space-separated: any v1 may match.
    const multi = standardHeaders(secret, id(), now(t), body);
    const res = await post({
      ...multi,
      "webhook-signature": `v1,${randomBytes(32).toString("base64")} ${multi["webhook-signature"]}`,
    });
    assert.equal(res.statusCode, 200, res.body);

    const unknown = await t.app.inject({
      method: "POST",
      url: "/api/webhooks/nobody",
      payload: body,
      headers: { "content-type": "application/json", ...standardHeaders(secret, id(), now(t), body) },
    });
    assert.equal(unknown.statusCode, 404);
    const proto = await t.app.inject({
      method: "POST",
      url: "/api/webhooks/constructor",
      payload: body,
      headers: { "content-type": "application/json" },
    });
    assert.equal(proto.statusCode, 404);
  } finally {
    await t.close();
  }
});

test("a flood of forged webhooks from one IP is rate limited (class webhook: ten times the per-minute budget)", async () => {
  const secret = stripeSecret();
  const t = await startApp({ env: { STRIPE_WEBHOOK_SECRET: secret, RATE_LIMIT_PER_MINUTE: "2" } });
  try {
    const e = stripeEvent("invoice.paid", {});
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++)
      statuses.push(
        (await postStripe(t.app, e.body, stripeSecret(), now(t), { remoteAddress: "203.0.113.9" })).statusCode,
      );
    assert.deepEqual(statuses, [...Array(20).fill(400), 429]);
    // Another sender (the real provider) is not affected.
    const ok = await postStripe(t.app, e.body, secret, now(t), { remoteAddress: "198.51.100.4" });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.match(String(ok.headers["ratelimit-policy"]), /"webhook";q=20;w=60/);
  } finally {
    await t.close();
  }
});
