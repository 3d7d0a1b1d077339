// Threat: several instances disagree — a limit counted per instance lets a client multiply it by
// the instance count, a revocation on one instance leaves the credential alive on another, a socket
// on another instance outlives its session, racing migrations break the schema, concurrent writers
// fork the audit chain, or a new signing key is unknown elsewhere.
// Three `bulwark start` processes behind nginx, with their own PostgreSQL and Redis (topology.ts).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MIGRATIONS_FOLDER } from "../../src/store/migrate.js";
import { startSmtp, tokenIn, type TestSmtp } from "../mail.js";
import { goodPassword } from "../identity.js";
import { connect } from "../realtime.js";
import {
  bearer,
  closeAgents,
  http,
  metric,
  newClientIp,
  newKey,
  newUser,
  onEveryInstance,
  signIn,
  type User,
} from "./client.js";
import { topologySkip } from "./gate.js";
import { startTopology, until, type Topology } from "./topology.js";

const skip = topologySkip();
let t: Topology;
let smtp: TestSmtp;

/** Per-IP login limit of this topology: the exact-count test spends it from one address. */
const LOGIN_LIMIT = 30;

describe("across instances", { skip, timeout: 900_000 }, () => {
  before(
    async () => {
      smtp = await startSmtp();
      t = await startTopology({
        env: {
          SMTP_URL: smtp.url,
          RATE_LIMIT_PER_MINUTE: "100000",
          RATE_LIMIT_PER_HOUR: "1000000",
          SENSITIVE_PER_MINUTE: "1000",
          AUTH_REGISTER_PER_MINUTE: "1000",
          AUTH_LOGIN_PER_MINUTE: String(LOGIN_LIMIT),
        },
      });
    },
    { timeout: 300_000 },
  );
  after(async () => {
    closeAgents();
    await t?.close();
    await smtp?.close();
  });

  test("three instances started at once on an empty database: each migration applied exactly once", async () => {
    const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta", "_journal.json"), "utf8")) as {
      entries: unknown[];
    };
    const applied = await t.pg.query<{ hash: string }>("select hash from drizzle.__drizzle_migrations");
    assert.equal(applied.length, journal.entries.length);
    assert.equal(new Set(applied.map((r) => r.hash)).size, applied.length, "no migration recorded twice");
    for (const instance of t.instances) assert.ok(instance.alive(), `instance ${instance.index} runs`);
  });

  test("a key's rate limit is exact across the three instances, and every instance refused some", async () => {
    await nextWindowIfLate();
    const owner = await newUser(t);
    const limit = 20;
    const { key } = await newKey(t, owner, { rate_limit_per_minute: limit });
    const before = await Promise.all(t.instances.map((i) => metric(t, i.base, "bulwark_rate_limit_exceeded_total")));
    const statuses: number[] = [];
    // Sequential, so nginx's round robin spreads them evenly over the three.
    for (let i = 0; i < 3 * limit; i++)
      statuses.push((await http(`${t.base}/api/whoami`, { headers: { "x-api-key": key }, from: owner.ip })).status);
    assert.equal(statuses.filter((s) => s === 200).length, limit, `statuses: ${statuses.join(",")}`);
    assert.equal(statuses.filter((s) => s === 429).length, 2 * limit);
    const afterwards = await Promise.all(
      t.instances.map((i) => metric(t, i.base, "bulwark_rate_limit_exceeded_total")),
    );
    afterwards.forEach((n, i) => assert.ok(n > before[i]!, `instance ${i} answered some of the 429s`));
  });

  test("the per-IP login limit is exact across the three, and a forged X-Forwarded-For does not escape it", async () => {
    await nextWindowIfLate();
    const ip = newClientIp();
    const statuses: number[] = [];
    for (let i = 0; i < LOGIN_LIMIT + 15; i++) {
      const res = await http(`${t.base}/api/auth/login`, {
        method: "POST",
        body: { login: `nobody_${i}`, password: goodPassword() },
        // A different forged address every time: only the proxy's own view of the client counts.
        headers: { "x-forwarded-for": `203.0.113.${i}` },
        from: ip,
      });
      statuses.push(res.status);
    }
    assert.equal(statuses.filter((s) => s === 401).length, LOGIN_LIMIT, `statuses: ${statuses.join(",")}`);
    assert.equal(statuses.filter((s) => s === 429).length, 15);
  });

  test("logout: the access token stops working at the next request on every instance", async () => {
    const user = await newUser(t);
    assert.deepEqual(await onEveryInstance(t, "/api/users/me", bearer(user.access), user.ip), [200, 200, 200]);
    const out = await http(`${t.instances[0]!.base}/api/auth/logout`, {
      method: "POST",
      headers: bearer(user.access),
      from: user.ip,
    });
    assert.equal(out.status, 204, out.text);
    assert.deepEqual(await onEveryInstance(t, "/api/users/me", bearer(user.access), user.ip), [401, 401, 401]);
  });

  test("revoking another session: its token is dead on every instance, the current one lives", async () => {
    const user = await newUser(t);
    const other = await signIn(t, user, user.ip);
    assert.deepEqual(await onEveryInstance(t, "/api/users/me", bearer(other.access), user.ip), [200, 200, 200]);
    const res = await http(`${t.instances[1]!.base}/api/sessions/${other.sessionId}`, {
      method: "DELETE",
      headers: bearer(user.access),
      from: user.ip,
    });
    assert.equal(res.status, 204, res.text);
    assert.deepEqual(await onEveryInstance(t, "/api/users/me", bearer(other.access), user.ip), [401, 401, 401]);
    assert.deepEqual(await onEveryInstance(t, "/api/users/me", bearer(user.access), user.ip), [200, 200, 200]);
  });

  test("revoking an API key: dead at the next request on every instance", async () => {
    const user = await newUser(t);
    const { id, key } = await newKey(t, user);
    assert.deepEqual(await onEveryInstance(t, "/api/whoami", { "x-api-key": key }, user.ip), [200, 200, 200]);
    const res = await http(`${t.instances[2]!.base}/api/keys/${id}`, {
      method: "DELETE",
      headers: bearer(user.access),
      from: user.ip,
    });
    assert.equal(res.status, 204, res.text);
    assert.deepEqual(await onEveryInstance(t, "/api/whoami", { "x-api-key": key }, user.ip), [401, 401, 401]);
  });

  test("disabling a user: sessions and keys dead on every instance, sign-in refused", async () => {
    const admin = await newUser(t, { admin: true });
    const user = await newUser(t);
    const { key } = await newKey(t, user);
    assert.deepEqual(await onEveryInstance(t, "/api/users/me", bearer(user.access), user.ip), [200, 200, 200]);
    assert.deepEqual(await onEveryInstance(t, "/api/whoami", { "x-api-key": key }, user.ip), [200, 200, 200]);
    const res = await http(`${t.instances[0]!.base}/api/admin/users/${user.id}/disable`, {
      method: "POST",
      headers: bearer(admin.access),
      body: {},
      from: admin.ip,
    });
    assert.equal(res.status, 204, res.text);
    assert.deepEqual(await onEveryInstance(t, "/api/users/me", bearer(user.access), user.ip), [401, 401, 401]);
    assert.deepEqual(await onEveryInstance(t, "/api/whoami", { "x-api-key": key }, user.ip), [401, 401, 401]);
    for (const instance of t.instances) {
      const login = await http(`${instance.base}/api/auth/login`, {
        method: "POST",
        body: { login: user.username, password: user.password },
        from: user.ip,
      });
      assert.equal(login.status, 401, `instance ${instance.index}: ${login.text}`);
    }
  });

  test("a password reset ends every session on every instance; the new password works everywhere", async () => {
    const user = await newUser(t);
    const second = await signIn(t, user, user.ip);
    const forgot = await http(`${t.instances[1]!.base}/api/auth/password/forgot`, {
      method: "POST",
      body: { email: user.email },
      from: user.ip,
    });
    assert.equal(forgot.status, 202, forgot.text);
    await until(() => smtp.to(user.email, "reset your password").length > 0, "the reset mail");
    const password = goodPassword();
    const reset = await http(`${t.instances[2]!.base}/api/auth/password/reset`, {
      method: "POST",
      body: { token: tokenIn(smtp.to(user.email, "reset your password")[0]), new_password: password },
      from: user.ip,
    });
    assert.equal(reset.status, 204, reset.text);
    for (const access of [user.access, second.access])
      assert.deepEqual(await onEveryInstance(t, "/api/users/me", bearer(access), user.ip), [401, 401, 401]);
    for (const instance of t.instances) {
      const login = await http(`${instance.base}/api/auth/login`, {
        method: "POST",
        body: { login: user.username, password },
        from: user.ip,
      });
      assert.equal(login.status, 200, `instance ${instance.index}: ${login.text}`);
    }
  });

  test("realtime: a message sent on one instance reaches sockets on the others (and through the proxy)", async () => {
    const [ada, bob] = [await newUser(t), await newUser(t)];
    const conv = await http(`${t.base}/api/conversations`, {
      method: "POST",
      headers: bearer(ada.access),
      body: { type: "direct", member_ids: [bob.id] },
      from: ada.ip,
    });
    assert.equal(conv.status, 201, conv.text);
    const conversationId = conv.json().conversation.id as string;
    const adaSocket = await socketOn(t.instances[0]!.base, ada);
    const bobSocket = await socketOn(t.instances[1]!.base, bob);
    const bobViaProxy = await socketOn(t.base, bob);
    try {
      const sent = await http(`${t.instances[2]!.base}/api/conversations/${conversationId}/messages`, {
        method: "POST",
        headers: bearer(ada.access),
        body: { body: "across instances" },
        from: ada.ip,
      });
      assert.equal(sent.status, 201, sent.text);
      for (const socket of [adaSocket, bobSocket, bobViaProxy]) {
        const frame = await socket.next((f) => f.type === "message.created");
        assert.equal((frame.message as { body: string }).body, "across instances");
      }
    } finally {
      for (const socket of [adaSocket, bobSocket, bobViaProxy]) socket.close();
    }
  });

  test("realtime: revoking a session on one instance closes its sockets on the others with 1008", async () => {
    const user = await newUser(t);
    const sockets = [
      await socketOn(t.instances[0]!.base, user),
      await socketOn(t.instances[1]!.base, user),
      await socketOn(t.base, user),
    ];
    const out = await http(`${t.instances[2]!.base}/api/auth/logout`, {
      method: "POST",
      headers: bearer(user.access),
      from: user.ip,
    });
    assert.equal(out.status, 204, out.text);
    for (const socket of sockets) assert.equal((await socket.closed).code, 1008);
  });

  test("concurrent writers on all three instances: `bulwark audit verify` finds the chain intact", async () => {
    const users = await Promise.all(t.instances.map(() => newUser(t)));
    const before = (await t.pg.query<{ n: number }>("select count(*)::int as n from audit_logs"))[0]!.n;
    // Each user writes audit rows through its own instance, all at once: refreshes and failed sign-ins.
    const writes = users.flatMap((user, i) =>
      Array.from({ length: 10 }, async (_, n) => {
        const res = await http(`${t.instances[i]!.base}/api/auth/login`, {
          method: "POST",
          body: { login: user.username, password: n % 2 ? user.password : "wrong password entirely" },
          from: user.ip,
        });
        assert.ok([200, 401].includes(res.status), res.text);
      }),
    );
    await Promise.all(writes);
    const rows = (await t.pg.query<{ n: number }>("select count(*)::int as n from audit_logs"))[0]!.n;
    assert.ok(rows >= before + 30, `${rows - before} audit rows written`);
    const verify = t.cli(["audit", "verify"]);
    assert.equal(verify.status, 0, `${verify.stdout}${verify.stderr}`);
    const admin = await newUser(t, { admin: true });
    for (const instance of t.instances) {
      const res = await http(`${instance.base}/api/admin/audit-logs/verify`, {
        headers: bearer(admin.access),
        from: admin.ip,
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().ok, true, res.text);
    }
  });

  test("a signing-key rotation by the CLI is seen by every instance at once", async () => {
    const user = await newUser(t);
    const kids = async (base: string) =>
      ((await http(`${base}/.well-known/jwks.json`)).json().keys as { kid: string }[]).map((k) => k.kid).sort();
    const before = await kids(t.instances[0]!.base);
    const rotate = t.cli(["keys", "rotate-signing"]);
    assert.equal(rotate.status, 0, `${rotate.stdout}${rotate.stderr}`);
    // Signed by the new key on instance 0, accepted by the others at the next request.
    const fresh = await signIn(t, user, user.ip);
    const res = await http(`${t.instances[0]!.base}/api/auth/login`, {
      method: "POST",
      body: { login: user.username, password: user.password },
      from: user.ip,
    });
    const kid = JSON.parse(Buffer.from(res.json().access_token.split(".")[0], "base64url").toString()).kid as string;
    assert.ok(!before.includes(kid), "the new token is signed by a new key");
    for (const instance of t.instances) {
      assert.ok((await kids(instance.base)).includes(kid), `instance ${instance.index} publishes the new key`);
      assert.ok((await kids(instance.base)).length > before.length, "the old key stays published");
    }
    for (const access of [res.json().access_token as string, fresh.access, user.access])
      assert.deepEqual(await onEveryInstance(t, "/api/users/me", bearer(access), user.ip), [200, 200, 200]);
  });
});

/** A realtime socket for `user` on `base` (an instance, or the proxy), with a ticket from the proxy. */
async function socketOn(base: string, user: User) {
  const res = await http(`${t.base}/api/realtime/ticket`, {
    method: "POST",
    headers: bearer(user.access),
    body: {},
    from: user.ip,
  });
  assert.equal(res.status, 201, res.text);
  // From the user's own address: a ticket is good only for the client that asked for it.
  return connect(base, res.json().ticket, { localAddress: user.ip });
}

/** Fixed windows: a burst that straddles a minute boundary gets two budgets, so start it early in one. */
async function nextWindowIfLate(): Promise<void> {
  const second = (Date.now() / 1000) % 60;
  if (second > 45) await sleep((60 - second + 0.2) * 1000);
}
