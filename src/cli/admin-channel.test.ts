import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bulwark, freePort, startServer } from "../../test/cli-process.js";
import { goodPassword } from "../../test/identity.js";
import { forwardToServer } from "./admin-client.js";
import { captureOutput } from "./output.js";

/** A command sent as the CLI sends it, from this process (a process per command costs seconds here). */
async function command(argv: string[], dataDir: string) {
  const out = captureOutput();
  const code = await forwardToServer(argv, { databaseUrl: undefined, dataDir }, out);
  return { code, stdout: out.lines.join("\n"), stderr: out.errors.join("\n") };
}

test(
  "operator commands run while the server holds the embedded database, and take effect at once over HTTP",
  { timeout: 900_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "bw-chan-"));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { PORT: String(port), DATA_DIR: join(dir, "data"), AUTH_REGISTER_PER_MINUTE: "100" };
    const server = await startServer(env, dir);
    try {
      const notice = server.output();
      assert.match(notice, new RegExp(`Bulwark is running at ${base}`));
      assert.match(notice, /development secrets: \.\/data\/secrets\.json/);
      assert.match(notice, /mail outbox: +\.\/data\/outbox .*bulwark mail latest/);
      const link = /first admin: +open (\S+)/.exec(notice)?.[1];
      assert.ok(link?.startsWith(`${base}/setup#token=`), notice);

      const json = async (path: string, init: { body?: unknown; token?: string; key?: string } = {}) => {
        const res = await fetch(`${base}${path}`, {
          method: init.body === undefined ? "GET" : "POST",
          headers: {
            ...(init.body === undefined ? {} : { "content-type": "application/json" }),
            ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
            ...(init.key ? { "x-api-key": init.key } : {}),
          },
          body: init.body === undefined ? undefined : JSON.stringify(init.body),
        });
        return { status: res.status, body: (await res.json().catch(() => null)) as { access_token?: string } | null };
      };
      const alice = { username: "alice", email: "alice@example.com", password: goodPassword() };
      assert.equal((await json("/api/auth/register", { body: alice })).status, 201);
      const signIn = async () =>
        (await json("/api/auth/login", { body: { login: "alice", password: alice.password } })).body?.access_token ??
        "";
      const before = await signIn();
      assert.equal((await json("/api/admin/users", { token: before })).status, 403);

      const promote = await bulwark(["users", "promote", "alice"], env, dir);
      assert.equal(promote.code, 0, promote.stderr);
      assert.match(promote.stdout, /alice is now an admin/);
      const admin = await signIn();
      assert.equal((await json("/api/admin/users", { token: admin })).status, 200, "the server sees the new role");
      const token = link!.split("#token=")[1];
      const setup = await json("/api/setup/admin", {
        body: { token, username: "mallory", email: "m@example.com", password: goodPassword() },
      });
      assert.equal(setup.status, 409, "an admin exists: the setup link is dead");

      assert.equal((await command(["users", "verify-email", "alice"], env.DATA_DIR)).code, 0);
      const created = await bulwark(
        ["api-keys", "create", "--user", "alice", "--name", "ci", "--scopes", ""],
        env,
        dir,
      );
      assert.equal(created.code, 0, created.stderr);
      const lines = created.stdout.split("\n");
      const key = lines[lines.indexOf("the key, shown this once:") + 1];
      assert.ok(key, created.stdout);
      assert.equal((await json("/api/whoami", { key })).status, 200, "the key works on the running server");

      const revoke = await command(["sessions", "revoke", "--user", "alice"], env.DATA_DIR);
      assert.equal(revoke.code, 0, revoke.stderr);
      assert.match(revoke.stdout, /revoked 2 sessions/);
      assert.equal((await json("/api/users/me", { token: admin })).status, 401, "the server refuses the ended session");

      const verify = await command(["audit", "verify"], env.DATA_DIR);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(verify.stdout, /^ok: \d+ rows checked/);
      const usage = await command(["users", "promote"], env.DATA_DIR);
      assert.equal(usage.code, 2, "a usage error keeps its exit code over the channel");
      const missing = await command(["users", "promote", "nobody"], env.DATA_DIR);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /nobody/);
    } finally {
      server.child.kill("SIGTERM");
      assert.equal(await server.exited, 0);
    }
  },
);
