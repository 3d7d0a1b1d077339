// Attack: a request reaches the FastAPI backend with forged, altered or replayed identity headers
// (straight to the backend, or a captured request sent again later). The Python helper in
// examples/gateway/bulwark_identity.py must accept what Bulwark signed and refuse the rest.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { createFakeClock } from "../../core/clock.js";
import { randomToken } from "../../core/crypto/index.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { rulesFile } from "../../../test/gateway.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { identityValues, signIdentity } from "./identity.js";

const EXAMPLES = fileURLToPath(new URL("../../../examples/gateway/", import.meta.url));
// Debian's python3 with python3-fastapi and python3-uvicorn (.ci/run installs them).
const PYTHON = "/usr/bin/python3";
const available = existsSync(PYTHON);

let backend: ChildProcess | undefined;
let backendUrl = "";
let t: TestApp;
let base = "";
const secret = randomToken(32);

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

before(async () => {
  if (!available) return;
  const port = await freePort();
  backendUrl = `http://127.0.0.1:${port}`;
  backend = spawn(PYTHON, ["-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: EXAMPLES,
    env: { ...process.env, BULWARK_GATEWAY_SECRET: secret, PYTHONDONTWRITEBYTECODE: "1" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  // Uvicorn says so on stderr once it accepts connections.
  let log = "";
  await new Promise<void>((resolve, reject) => {
    backend!.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes("Uvicorn running")) resolve();
    });
    backend!.once("exit", (code) => reject(new Error(`uvicorn exited ${code}: ${log}`)));
  });
  // The signature's timestamp is checked against the backend's real clock.
  t = await startApp({
    clock: createFakeClock(Date.now()),
    env: {
      UPSTREAM_URL: backendUrl,
      GATEWAY_SECRET: secret,
      GATEWAY_RULES: rulesFile(readFileSync(`${EXAMPLES}rules.yaml`, "utf8")),
    },
  });
  await t.app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
});
after(async () => {
  await t?.close();
  backend?.kill();
});

const skip = available ? false : "needs Debian's python3-fastapi and python3-uvicorn";

test("the FastAPI dependency reads the identity Bulwark signed", { skip }, async () => {
  const user = await signedIn(t.app);
  const me = await fetch(`${base}/app/me`, { headers: bearer(user.access) });
  assert.equal(me.status, 200);
  assert.deepEqual(await me.json(), { user: user.userId, role: "user", key: null, scopes: [] });
  const note = await fetch(`${base}/app/notes?draft=1`, {
    method: "POST",
    headers: { ...bearer(user.access), "content-type": "application/json" },
    body: JSON.stringify({ text: "hi" }),
  });
  assert.equal(note.status, 201, await note.clone().text());
  // The backend's own validation errors pass through untouched (FastAPI's 422).
  const bad = await fetch(`${base}/app/notes`, {
    method: "POST",
    headers: { ...bearer(user.access), "content-type": "application/json" },
    body: JSON.stringify({ text: "" }),
  });
  assert.equal(bad.status, 422);
  assert.ok(Array.isArray(((await bad.json()) as { detail: unknown }).detail));
  const anonymous = await fetch(`${base}/public/hello`, { headers: { "x-request-id": "trace-python-1" } });
  assert.deepEqual(await anonymous.json(), { hello: "world", request_id: "trace-python-1" });
});

test(
  "straight to the backend: no signature, a tampered header, a replay on another path and a stale signature are refused",
  { skip },
  async () => {
    const now = Math.floor(Date.now() / 1000);
    const values = identityValues({ type: "user", userId: "u-victim", role: "user" }, "req-12345678");
    const signed = (ts: number, path = "/app/me") => ({
      ...values,
      "x-bulwark-timestamp": String(ts),
      "x-bulwark-signature": signIdentity(secret, "GET", path, String(ts), values),
    });
    // Control: a correct signature is accepted, so the refusals below are the checks at work.
    assert.equal((await fetch(`${backendUrl}/app/me`, { headers: signed(now) })).status, 200);
    assert.equal((await fetch(`${backendUrl}/app/me`, { headers: { ...values } })).status, 401);
    assert.equal(
      (await fetch(`${backendUrl}/app/me`, { headers: { ...signed(now), "x-bulwark-user": "u-attacker" } })).status,
      401,
    );
    assert.equal(
      (await fetch(`${backendUrl}/app/me`, { headers: { ...signed(now), "x-bulwark-role": "admin" } })).status,
      401,
    );
    assert.equal((await fetch(`${backendUrl}/app/admin/stats`, { headers: signed(now) })).status, 401);
    assert.equal((await fetch(`${backendUrl}/app/me`, { headers: signed(now - 120) })).status, 401);
    assert.equal((await fetch(`${backendUrl}/app/me`, { headers: signed(now + 120) })).status, 401);
  },
);
