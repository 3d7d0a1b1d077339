// Threat: a dependency fails under load and Bulwark fails with it — Redis gone turns limits off or
// answers 500s, a revocation made while it was away never reaches the other instances; a PostgreSQL
// restart answers 500s or loses a write it acknowledged; an instance killed mid-write leaves a broken
// audit chain, loses or repeats a webhook delivery, or the proxy stops serving.
// Three `bulwark start` processes behind nginx with their own PostgreSQL and Redis (topology.ts);
// each fault is made on purpose, under load, and what must hold is checked afterwards.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { Webhook } from "standardwebhooks";
import { bearer, closeAgents, http, newKey, newUser, onEveryInstance, signIn, type User } from "./client.js";
import { topologySkip } from "./gate.js";
import { assertNothingLost, startLoad, type Load } from "./load.js";
import { startTopology, statusOf, until, type Topology } from "./topology.js";

const skip = topologySkip();
let t: Topology;
/** TOPOLOGY_FULL=1: longer outages under heavier load (the documented full run); CI runs the short one. */
const FULL = process.env.TOPOLOGY_FULL === "1";
const OUTAGE_MS = FULL ? 30_000 : 2_000;
const WORKERS = FULL ? { register: 6, read: 4, keys: 2, messages: 4 } : { register: 2, read: 2, keys: 1, messages: 2 };

const report = (line: string) => process.stderr.write(`${line}\n`);

describe("faults", { skip, timeout: 1_200_000 }, () => {
  before(
    async () => {
      t = await startTopology({
        env: {
          RATE_LIMIT_PER_MINUTE: "1000000",
          RATE_LIMIT_PER_HOUR: "10000000",
          SENSITIVE_PER_MINUTE: "1000000",
          AUTH_REGISTER_PER_MINUTE: "1000000",
          AUTH_LOGIN_PER_MINUTE: "1000000",
          API_KEYS_PER_USER: "10000",
          STEP_UP_TTL: "3600",
        },
      });
    },
    { timeout: 300_000 },
  );
  after(async () => {
    closeAgents();
    await t?.close();
  });

  test("Redis killed under load and restarted: per-instance limits, degraded, no 500, shared again after", async () => {
    const { owner, conversationId } = await loadOwner();
    const user = await newUser(t);
    // Keys with a limit of their own, made while Redis is up (announced to every instance).
    const limit = 10;
    const during = await newKey(t, user, { rate_limit_per_minute: limit });
    const load = startLoad(t, { owner, conversationId, workers: WORKERS });
    let revokedAt = 0;
    try {
      await until(() => load.ok() >= 20, "load to run");
      await t.redis.kill();
      for (const instance of t.instances)
        await until(
          async () => (await ready(instance.base))?.status === "degraded",
          `instance ${instance.index} degraded`,
        );
      // Each instance counts on its own now: the limit holds on each, exactly.
      await nextWindowIfLate();
      for (const instance of t.instances) {
        const statuses: number[] = [];
        for (let i = 0; i < limit + 5; i++)
          statuses.push(
            (await http(`${instance.base}/api/whoami`, { headers: { "x-api-key": during.key }, from: user.ip })).status,
          );
        assert.equal(statuses.filter((s) => s === 200).length, limit, `instance ${instance.index}: ${statuses}`);
        assert.equal(statuses.filter((s) => s === 429).length, 5);
      }
      // A session revoked while Redis is away: refused at once where it was revoked.
      const lost = await signIn(t, user, user.ip);
      const revoke = await http(`${t.instances[0]!.base}/api/sessions/${lost.sessionId}`, {
        method: "DELETE",
        headers: bearer(user.access),
        from: user.ip,
      });
      assert.equal(revoke.status, 204, revoke.text);
      revokedAt = Date.now();
      assert.equal((await onEveryInstance(t, "/api/users/me", bearer(lost.access), user.ip))[0], 401);
      const okBefore = load.ok();
      await until(() => load.ok() >= okBefore + 20, "load to keep succeeding without Redis");
      await sleep(OUTAGE_MS);
      await t.redis.start();
      const back = Date.now();
      for (const instance of t.instances)
        await until(async () => (await ready(instance.base))?.status === "ok", `instance ${instance.index} ok again`);
      // The revocation made during the outage reached every instance (at their reconnection or reload).
      await until(
        async () => (await onEveryInstance(t, "/api/users/me", bearer(lost.access), user.ip)).every((s) => s === 401),
        "the revocation made during the outage to reach every instance",
      );
      report(
        `redis: the revocation made during the outage reached every instance ${Date.now() - revokedAt} ms after it was made, ${Date.now() - back} ms after Redis returned`,
      );
      // Shared again: one budget for the three.
      await nextWindowIfLate();
      const shared = await newKey(t, user, { rate_limit_per_minute: limit });
      const statuses: number[] = [];
      for (let i = 0; i < 3 * limit; i++)
        statuses.push(
          (await http(`${t.base}/api/whoami`, { headers: { "x-api-key": shared.key }, from: user.ip })).status,
        );
      assert.equal(statuses.filter((s) => s === 200).length, limit, `through the proxy: ${statuses}`);
      // And a revocation after the return reaches every instance at the next request.
      const next = await signIn(t, user, user.ip);
      const res = await http(`${t.instances[1]!.base}/api/sessions/${next.sessionId}`, {
        method: "DELETE",
        headers: bearer(user.access),
        from: user.ip,
      });
      assert.equal(res.status, 204, res.text);
      assert.deepEqual(await onEveryInstance(t, "/api/users/me", bearer(next.access), user.ip), [401, 401, 401]);
    } finally {
      await load.stop();
    }
    report(`redis outage: ${JSON.stringify(load.counts)}`);
    assert.deepEqual(load.violations.slice(0, 20), [], `${load.violations.length} answers broke the policy`);
    await assertNothingLost(t, load);
  });

  test("PostgreSQL stopped and restarted under load: 503 envelopes, no 500, nothing acknowledged lost", async () => {
    const { owner, conversationId } = await loadOwner();
    const load = startLoad(t, { owner, conversationId, workers: WORKERS });
    try {
      await until(() => load.ok() >= 20, "load to run");
      t.pg.stop();
      for (const instance of t.instances)
        await until(async () => (await statusOf(`${instance.base}/ready`)) === 503, `instance ${instance.index} 503`);
      const unavailable = load.counts.unavailable;
      await until(() => load.counts.unavailable >= unavailable + 30, "requests during the outage to answer 503");
      await sleep(OUTAGE_MS);
      t.pg.start();
      for (const instance of t.instances)
        await until(async () => (await statusOf(`${instance.base}/ready`)) === 200, `instance ${instance.index} 200`);
      const okBefore = load.ok();
      await until(() => load.ok() >= okBefore + 30, "writes to succeed again");
    } finally {
      await load.stop();
    }
    report(`postgres outage: ${JSON.stringify(load.counts)}; acknowledged ${counts(load)}`);
    for (const instance of t.instances) assert.ok(instance.alive(), `instance ${instance.index} survived`);
    assert.deepEqual(load.violations.slice(0, 20), [], `${load.violations.length} answers broke the policy`);
    assert.ok(load.counts.unavailable > 0, "the outage was seen as 503s");
    await assertNothingLost(t, load);
    await assertChainIntact();
  });

  test("an instance SIGKILLed mid-writes: the proxy keeps serving, the chain holds, webhooks neither lost nor repeated", async () => {
    const receiver = await startReceiver();
    try {
      const admin = await newUser(t, { admin: true });
      const endpoint = await http(`${t.base}/api/admin/webhook-endpoints`, {
        method: "POST",
        headers: bearer(admin.access),
        body: { url: receiver.url, events: ["user.created"] },
        from: admin.ip,
      });
      assert.equal(endpoint.status, 201, endpoint.text);
      receiver.secret = endpoint.json().secret;
      const endpointId = endpoint.json().id as string;
      const { owner, conversationId } = await loadOwner();
      const load = startLoad(t, {
        owner,
        conversationId,
        workers: { ...WORKERS, register: WORKERS.register * 2 },
        tolerateDeadUpstream: true,
      });
      const victim = t.instances[1]!;
      let okAtKill = 0;
      try {
        await until(() => load.acknowledged.users.length >= 30, "registrations to run");
        okAtKill = load.ok();
        await victim.kill("SIGKILL");
        // The proxy keeps serving on the two left.
        await until(() => load.ok() >= okAtKill + 60, "the proxy to keep serving after the death");
      } finally {
        await load.stop();
      }
      report(`instance killed: ${JSON.stringify(load.counts)}; acknowledged ${counts(load)}`);
      assert.deepEqual(load.violations.slice(0, 20), [], `${load.violations.length} answers broke the policy`);
      // Only what was in flight on the victim may have failed: one request per worker at most.
      const workers = WORKERS.register * 3 + WORKERS.read + WORKERS.keys + WORKERS.messages;
      assert.ok(load.counts.badGateway + load.counts.failed <= workers, JSON.stringify(load.counts));
      await victim.start();
      await assertNothingLost(t, load);
      const verify = t.cli(["audit", "verify"]);
      assert.equal(verify.status, 0, `${verify.stdout}${verify.stderr}`);
      // Every delivery made for an acknowledged registration arrives; a delivery the victim had
      // claimed waits out its lease and is sent by a survivor.
      const rows = await t.pg.query<{ id: string }>("select id from webhook_deliveries where endpoint_id = $1", [
        endpointId,
      ]);
      assert.ok(rows.length >= load.acknowledged.users.length, `${rows.length} deliveries queued`);
      await until(
        async () =>
          (
            await t.pg.query<{ n: number }>(
              "select count(*)::int as n from webhook_deliveries where endpoint_id = $1 and status <> 'delivered'",
              [endpointId],
            )
          )[0]!.n === 0,
        "every delivery to be delivered",
        150_000,
      );
      const ids = rows.map((r) => r.id);
      const received = new Set(receiver.received);
      const repeated = receiver.received.length - received.size;
      report(`webhooks: ${ids.length} deliveries, ${receiver.received.length} received, ${repeated} repeated`);
      assert.equal(receiver.forged, 0, "every delivery is signed with the endpoint's secret");
      assert.equal(received.size, ids.length, "each delivery received");
      assert.equal(repeated, 0, "no delivery sent twice");
    } finally {
      await receiver.close();
    }
  });
});

/** A user with a conversation to post to, for the load. */
async function loadOwner(): Promise<{ owner: User; conversationId: string }> {
  const [owner, peer] = [await newUser(t), await newUser(t)];
  const up = await http(`${t.base}/api/auth/step-up`, {
    method: "POST",
    headers: bearer(owner.access),
    body: { password: owner.password },
    from: owner.ip,
  });
  assert.equal(up.status, 200, up.text);
  const conv = await http(`${t.base}/api/conversations`, {
    method: "POST",
    headers: bearer(owner.access),
    body: { type: "direct", member_ids: [peer.id] },
    from: owner.ip,
  });
  assert.equal(conv.status, 201, conv.text);
  return { owner, conversationId: conv.json().conversation.id };
}

async function ready(base: string): Promise<{ status: string } | undefined> {
  try {
    const res = await http(`${base}/ready`, { timeoutMs: 5_000 });
    return res.json();
  } catch {
    return undefined;
  }
}

async function assertChainIntact(): Promise<void> {
  const admin = await newUser(t, { admin: true });
  const res = await http(`${t.base}/api/admin/audit-logs/verify`, { headers: bearer(admin.access), from: admin.ip });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json().ok, true, res.text);
}

function counts(load: Load): string {
  const { users, keys, messages } = load.acknowledged;
  return `${users.length} registrations, ${keys.length} keys, ${messages.length} messages`;
}

/** A Standard Webhooks receiver on loopback: records each delivery's `webhook-id` after checking its signature. */
async function startReceiver(): Promise<{
  url: string;
  secret: string;
  received: string[];
  forged: number;
  close(): Promise<void>;
}> {
  const state = { secret: "", received: [] as string[], forged: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        new Webhook(state.secret).verify(body, req.headers as Record<string, string>);
        state.received.push(String(req.headers["webhook-id"]));
      } catch {
        state.forged++;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/hook`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

async function nextWindowIfLate(): Promise<void> {
  const second = (Date.now() / 1000) % 60;
  if (second > 45) await sleep((60 - second + 0.2) * 1000);
}
