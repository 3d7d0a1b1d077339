// HTTP over real sockets for the topology tests: requests from a chosen loopback address (every
// 127.x.y.z is this machine), so each test is a different client to the proxy and to the limits.
import assert from "node:assert/strict";
import { Agent, request, type IncomingHttpHeaders } from "node:http";
import { randomInt } from "node:crypto";
import { randomToken } from "../../src/core/crypto/index.js";
import { goodPassword } from "../identity.js";
import type { Topology } from "./topology.js";

export type Res = { status: number; headers: IncomingHttpHeaders; text: string; json<T = any>(): T };

const agents = new Map<string, Agent>();

/** A fresh loopback address to send from: a client of its own. */
export function newClientIp(): string {
  return `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

/** One HTTP request to `url` from `from` (a loopback address); `body` objects are sent as JSON. */
export function http(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: unknown;
    from?: string;
    timeoutMs?: number;
  } = {},
): Promise<Res> {
  const from = options.from ?? "127.0.0.1";
  let agent = agents.get(from);
  if (!agent) {
    agent = new Agent({ keepAlive: true, maxSockets: 64, localAddress: from } as ConstructorParameters<
      typeof Agent
    >[0]);
    agents.set(from, agent);
  }
  const headers: Record<string, string> = { ...options.headers };
  let payload: string | Buffer | undefined;
  if (options.body !== undefined) {
    payload =
      typeof options.body === "string" || Buffer.isBuffer(options.body) ? options.body : JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? "GET", headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Closes the kept-alive sockets (at the end of a test file). */
export function closeAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

export type User = {
  id: string;
  username: string;
  email: string;
  password: string;
  access: string;
  refresh: string;
  sessionId: string;
  /** The loopback address this user's requests come from. */
  ip: string;
};

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * Registers an account through the proxy and signs it in. The address is marked verified (and the
 * role set) in the database before the first sign-in, as an operator would: no instance has the
 * account cached yet.
 */
export async function newUser(t: Topology, options: { admin?: boolean; ip?: string } = {}): Promise<User> {
  const ip = options.ip ?? newClientIp();
  const username = `u_${randomToken(8).replace(/[^A-Za-z0-9]/g, "x")}`;
  const email = `${username.toLowerCase()}@example.com`;
  const password = goodPassword();
  const reg = await http(`${t.base}/api/auth/register`, {
    method: "POST",
    body: { username, email, password },
    from: ip,
  });
  assert.equal(reg.status, 201, reg.text);
  const id = reg.json().user.id as string;
  await t.pg.query("update users set email_verified = true, role = $2 where id = $1", [
    id,
    options.admin ? "admin" : "user",
  ]);
  const session = await signIn(t, { username, password }, ip);
  return { id, username, email, password, ip, ...session };
}

/** Signs in; the token pair. */
export async function signIn(
  t: Topology,
  user: { username: string; password: string },
  ip: string,
): Promise<{ access: string; refresh: string; sessionId: string }> {
  const res = await http(`${t.base}/api/auth/login`, {
    method: "POST",
    body: { login: user.username, password: user.password },
    from: ip,
  });
  assert.equal(res.status, 200, res.text);
  const body = res.json();
  return { access: body.access_token, refresh: body.refresh_token, sessionId: body.session_id };
}

/** Steps up and creates an API key; the full key. */
export async function newKey(
  t: Topology,
  user: User,
  options: { scopes?: string[]; rate_limit_per_minute?: number } = {},
): Promise<{ id: string; key: string }> {
  const up = await http(`${t.base}/api/auth/step-up`, {
    method: "POST",
    headers: bearer(user.access),
    body: { password: user.password },
    from: user.ip,
  });
  assert.equal(up.status, 200, up.text);
  const res = await http(`${t.base}/api/keys`, {
    method: "POST",
    headers: bearer(user.access),
    body: { name: "topology", scopes: options.scopes ?? ["read"], ...options },
    from: user.ip,
  });
  assert.equal(res.status, 201, res.text);
  return { id: res.json().id, key: res.json().key };
}

/** GET `path` on each instance directly (bypassing the proxy) with the given headers: the statuses. */
export async function onEveryInstance(
  t: Topology,
  path: string,
  headers: Record<string, string>,
  from = "127.0.0.1",
): Promise<number[]> {
  const statuses: number[] = [];
  for (const instance of t.instances) statuses.push((await http(`${instance.base}${path}`, { headers, from })).status);
  return statuses;
}

/** The sum of a Prometheus counter's samples (all labels) on one instance. */
export async function metric(t: Topology, base: string, name: string): Promise<number> {
  const res = await http(`${base}/metrics`, { headers: bearer(t.env.METRICS_TOKEN!) });
  assert.equal(res.status, 200, res.text);
  let sum = 0;
  for (const line of res.text.split("\n")) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(" ").pop());
  }
  return sum;
}
