// Mixed write and read load through the proxy, every answer checked against the policy: a success,
// a refusal by policy (429), or the 503 envelope with Retry-After. What was acknowledged (201) is
// kept, so a test can prove afterwards that none of it was lost.
import assert from "node:assert/strict";
import { randomToken } from "../../src/core/crypto/index.js";
import { goodPassword } from "../identity.js";
import { bearer, http, type Res, type User } from "./client.js";
import type { Topology } from "./topology.js";

export type Load = {
  acknowledged: { users: string[]; keys: string[]; messages: string[] };
  violations: string[];
  counts: { ok: number; unavailable: number; limited: number; badGateway: number; failed: number };
  /** Successes so far (for "it works again" waits). */
  ok(): number;
  stop(): Promise<void>;
};

export type LoadOptions = {
  owner: User;
  conversationId: string;
  workers?: { register?: number; read?: number; keys?: number; messages?: number };
  /** 502 from the proxy and dropped connections are counted, not violations (an instance is being killed). */
  tolerateDeadUpstream?: boolean;
};

/** Starts the load; `stop()` ends it once the requests in flight are answered. */
export function startLoad(t: Topology, options: LoadOptions): Load {
  const { owner } = options;
  const workers = { register: 2, read: 2, keys: 1, messages: 2, ...options.workers };
  const acknowledged = { users: [] as string[], keys: [] as string[], messages: [] as string[] };
  const violations: string[] = [];
  const counts = { ok: 0, unavailable: 0, limited: 0, badGateway: 0, failed: 0 };
  let running = true;

  const judge = (what: string, res: Res, ok: number): boolean => {
    if (res.status === ok) {
      counts.ok++;
      return true;
    }
    if (res.status === 429) {
      counts.limited++;
      return false;
    }
    if (res.status === 503) {
      let code: unknown;
      try {
        code = res.json().error?.code;
      } catch {
        code = undefined;
      }
      if (code === "service_unavailable" && res.headers["retry-after"]) {
        counts.unavailable++;
        return false;
      }
    }
    if (res.status === 502 && options.tolerateDeadUpstream) {
      counts.badGateway++;
      return false;
    }
    violations.push(`${what}: ${res.status} ${res.text.slice(0, 300)}`);
    return false;
  };
  const call = async (what: string, path: string, init: Parameters<typeof http>[1], ok: number) => {
    try {
      const res = await http(`${t.base}${path}`, { ...init, from: owner.ip });
      return judge(what, res, ok) ? res : undefined;
    } catch (error) {
      if (options.tolerateDeadUpstream) counts.failed++;
      else violations.push(`${what}: no answer (${(error as Error).message})`);
      return undefined;
    }
  };
  const loop = (step: () => Promise<void>) => async () => {
    while (running) await step();
  };
  const register = loop(async () => {
    const username = `l_${randomToken(9).replace(/[^A-Za-z0-9]/g, "x")}`;
    const res = await call(
      "POST /api/auth/register",
      "/api/auth/register",
      {
        method: "POST",
        body: { username, email: `${username.toLowerCase()}@example.com`, password: goodPassword() },
      },
      201,
    );
    if (res) acknowledged.users.push(res.json().user.id);
  });
  const read = loop(async () => {
    await call("GET /api/users/me", "/api/users/me", { headers: bearer(owner.access) }, 200);
  });
  const keys = loop(async () => {
    const res = await call(
      "POST /api/keys",
      "/api/keys",
      { method: "POST", headers: bearer(owner.access), body: { name: "load", scopes: ["read"] } },
      201,
    );
    if (res) acknowledged.keys.push(res.json().id);
  });
  const messages = loop(async () => {
    const res = await call(
      "POST messages",
      `/api/conversations/${options.conversationId}/messages`,
      { method: "POST", headers: bearer(owner.access), body: { body: `load ${randomToken(6)}` } },
      201,
    );
    if (res) acknowledged.messages.push(res.json().message.id);
  });
  const loops = [
    ...Array.from({ length: workers.register }, register),
    ...Array.from({ length: workers.read }, read),
    ...Array.from({ length: workers.keys }, keys),
    ...Array.from({ length: workers.messages }, messages),
  ];
  return {
    acknowledged,
    violations,
    counts,
    ok: () => counts.ok,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * Every acknowledged write is in the database, with the audit row of its transaction where it has
 * one; and no account exists without its registration's audit row (nothing half-written).
 */
export async function assertNothingLost(t: Topology, load: Load): Promise<void> {
  const { users, keys, messages } = load.acknowledged;
  const missing = async (table: string, ids: string[]) =>
    (await t.pg.query<{ id: string }>(`select id from ${table} where id = any($1)`, [ids])).length;
  assert.equal(await missing("users", users), users.length, "acknowledged registrations are all stored");
  assert.equal(await missing("api_keys", keys), keys.length, "acknowledged key creations are all stored");
  assert.equal(await missing("messages", messages), messages.length, "acknowledged messages are all stored");
  const audited = async (event: string, ids: string[]) =>
    (
      await t.pg.query<{ n: number }>(
        "select count(distinct target)::int as n from audit_logs where event_type = $1 and target = any($2)",
        [event, ids],
      )
    )[0]!.n;
  assert.equal(await audited("user.register", users), users.length, "each acknowledged registration is audited");
  assert.equal(await audited("api_key.create", keys), keys.length, "each acknowledged key creation is audited");
  const orphans = await t.pg.query<{ id: string }>(
    "select u.id from users u where not exists (select 1 from audit_logs a where a.event_type = 'user.register' and a.target = u.id)",
  );
  assert.deepEqual(orphans, [], "no account without its registration's audit row");
}
