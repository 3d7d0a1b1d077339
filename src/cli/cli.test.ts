import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { secretWeakness } from "../config/production.js";
import { initCommand } from "./init.js";
import { captureOutput } from "./output.js";
import { secretsCommand } from "./secrets.js";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** tsx resolved from this project, since the command runs in a scratch directory. */
const TSX = import.meta.resolve("tsx");

/** Runs the real `bulwark` entry point (through tsx) and collects its output and exit code. */
function bulwark(
  args: string[],
  env: Record<string, string>,
  cwd: string,
  onStdout?: (text: string, child: ReturnType<typeof spawn>) => void,
) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", TSX, MAIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(stdout, child);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test("bulwark init writes .env with strong secrets, mode 0600, ignored by git, and never overwrites silently", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-init-"));
  writeFileSync(join(dir, ".gitignore"), "node_modules/");
  const out = captureOutput();
  assert.equal(await initCommand([], out, dir), 0);
  const envFile = join(dir, ".env");
  assert.equal(statSync(envFile).mode & 0o777, 0o600);
  const env = parseEnv(readFileSync(envFile, "utf8"));
  for (const name of ["SECRET_KEY", "METRICS_TOKEN"]) assert.equal(secretWeakness(env[name] ?? ""), undefined, name);
  assert.match(env.ENCRYPTION_KEYS ?? "", /^[A-Za-z0-9_-]+:[A-Za-z0-9+/=_-]{43,44}$/);
  assert.deepEqual(readFileSync(join(dir, ".gitignore"), "utf8").split("\n").filter(Boolean), [
    "node_modules/",
    ".env",
  ]);
  assert.equal(out.lines.join("\n").includes(env.SECRET_KEY!), false, "secrets are not printed");

  const again = captureOutput();
  assert.equal(await initCommand([], again, dir), 1);
  assert.match(again.errors.join("\n"), /--force/);
  assert.equal(readFileSync(envFile, "utf8").includes(env.SECRET_KEY!), true, "unchanged");
  assert.equal(await initCommand(["--force"], captureOutput(), dir), 0);
  assert.equal(readFileSync(envFile, "utf8").includes(env.SECRET_KEY!), false, "replaced with --force");
  assert.equal(readFileSync(join(dir, ".gitignore"), "utf8").match(/^\.env$/gm)?.length, 1, ".env listed once");
});

test("bulwark secrets generate prints fresh strong values each time", async () => {
  const a = captureOutput();
  const b = captureOutput();
  assert.equal(await secretsCommand(["generate", "--json"], a), 0);
  assert.equal(await secretsCommand(["generate", "--json"], b), 0);
  const first = JSON.parse(a.lines[0]!) as Record<string, string>;
  const second = JSON.parse(b.lines[0]!) as Record<string, string>;
  assert.notEqual(first.SECRET_KEY, second.SECRET_KEY);
  assert.equal(secretWeakness(first.SECRET_KEY!), undefined);
  assert.equal(await secretsCommand(["rotate"], captureOutput()), 2);
});

test("bulwark start refuses a weak production configuration, lists every problem, and serves nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-prod-"));
  const port = await freePort();
  const result = await bulwark(
    ["start"],
    { NODE_ENV: "production", PORT: String(port), DATA_DIR: dir, SECRET_KEY: "changeme", CORS_ORIGINS: "*" },
    dir,
  );
  assert.equal(result.code, 1);
  for (const setting of ["SECRET_KEY", "ENCRYPTION_KEYS", "METRICS_TOKEN", "CORS_ORIGINS", "PUBLIC_URL"])
    assert.match(result.stderr, new RegExp(`${setting}: `), setting);
  assert.match(result.stderr, /bulwark secrets generate/);
  assert.equal(existsSync(join(dir, "pglite")), false, "no database was created");
  await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
});

test("bulwark start serves on embedded defaults and stops cleanly on SIGTERM", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-start-"));
  const port = await freePort();
  let health: number | undefined;
  const result = await bulwark(["start"], { PORT: String(port), DATA_DIR: join(dir, "data") }, dir, (stdout, child) => {
    if (health === undefined && stdout.includes("bulwark listening")) {
      health = 0;
      fetch(`http://127.0.0.1:${port}/health`).then(
        (res) => {
          health = res.status;
          child.kill("SIGTERM");
        },
        () => child.kill("SIGTERM"),
      );
    }
  });
  assert.equal(health, 200);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /development secrets in use/);
  assert.match(result.stdout, /"msg":"stopped"/);
  assert.equal(statSync(join(dir, "data", "secrets.json")).mode & 0o777, 0o600);
});

test("an unknown command or option is a usage error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-cli-"));
  assert.equal((await bulwark(["frobnicate"], {}, dir)).code, 2);
  const bad = await bulwark(["secrets", "generate", "--nope"], {}, dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--nope/);
});
