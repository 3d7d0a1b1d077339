// The deployment files say what they mean: the compose file parses and gives each instance a
// configuration production accepts, the alert rules and dashboard parse and name only metrics that
// exist (src/modules/observability/metrics.names.test.ts checks the names), the systemd unit passes
// `systemd-analyze verify`, and the image's start command, with the image's environment, serves
// /health outside a container (these machines cannot pull base images to build it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse } from "yaml";
import { loadConfig } from "../src/config/load.js";
import { productionEnv } from "./harness.js";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

type Service = {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: unknown;
  depends_on?: unknown;
};

test("compose.yaml: two Bulwark instances behind a proxy, PostgreSQL and Redis, with a configuration production accepts", () => {
  const compose = parse(read("compose.yaml"), { merge: true }) as { services: Record<string, Service> };
  const services = compose.services;
  assert.deepEqual(Object.keys(services).sort(), ["bulwark-1", "bulwark-2", "postgres", "proxy", "redis"]);
  for (const name of ["bulwark-1", "bulwark-2"]) {
    const s = services[name]!;
    assert.equal(s.build, ".", `${name} is built from the Dockerfile`);
    const env = s.environment!;
    assert.match(env.REDIS_URL!, /^redis:\/\/redis:6379$/);
    assert.ok(
      s.volumes?.some((v) => v.endsWith(":/data")),
      `${name} keeps DATA_DIR on a volume`,
    );
    // The compose file's settings, with the secrets an operator puts in .env, pass every production rule.
    const dbUrl = env.DATABASE_URL!.replace(/\$\{POSTGRES_PASSWORD[^}]*\}/, "pw");
    const config = loadConfig({
      ...productionEnv(),
      DATABASE_URL: dbUrl,
      REDIS_URL: env.REDIS_URL,
      TRUST_PROXY: env.TRUST_PROXY,
    });
    assert.deepEqual(config.trustProxy, ["172.30.0.10"]);
  }
  assert.ok(services.postgres!.healthcheck && services.redis!.healthcheck);
});

test("the Prometheus alert rules parse and cover auth failures, rate limits, the audit chain and the webhook backlog", () => {
  const rules = parse(read("deploy/prometheus/bulwark-alerts.yml")) as {
    groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string } }[] }[];
  };
  const all = rules.groups.flatMap((g) => g.rules);
  for (const rule of all) {
    assert.ok(rule.alert && rule.expr && ["warning", "critical"].includes(rule.labels.severity), JSON.stringify(rule));
    assert.equal(rule.expr.split("(").length, rule.expr.split(")").length, `${rule.alert}: balanced parentheses`);
  }
  const exprs = all.map((r) => r.expr).join("\n");
  for (const metric of [
    "bulwark_auth_failures_total",
    "bulwark_rate_limit_exceeded_total",
    "bulwark_audit_verifications_total",
    "bulwark_webhook_deliveries_pending",
  ]) {
    assert.ok(exprs.includes(metric), `an alert on ${metric}`);
  }
});

test("the Grafana dashboard parses and every panel queries a bulwark_ metric", () => {
  const dashboard = JSON.parse(read("deploy/grafana/bulwark-dashboard.json")) as {
    title: string;
    panels: { title: string; targets: { expr: string }[] }[];
  };
  assert.equal(dashboard.title, "Bulwark");
  assert.ok(dashboard.panels.length >= 6);
  for (const panel of dashboard.panels)
    for (const target of panel.targets) assert.match(target.expr, /bulwark_[a-z_]+/, panel.title);
});

test(
  "the systemd unit passes systemd-analyze verify",
  { skip: existsSync("/usr/bin/systemd-analyze") ? false : "systemd-analyze is not installed" },
  async () => {
    const run = await promisify(execFile)("/usr/bin/systemd-analyze", [
      "verify",
      join(ROOT, "deploy/bulwark.service"),
    ]).catch((error: { stderr: string; code: number }) => error);
    assert.equal(run.stderr, "", "no warning (an unknown or misspelled key is only a warning)");
    assert.ok(!("code" in run) || run.code === 0);
  },
);

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
      .listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => done(port));
      })
      .on("error", fail);
  });
}

test("the Dockerfile: multi-stage, non-root, health check, and its start command serves /health outside a container", async () => {
  const dockerfile = read("Dockerfile");
  assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, "multi-stage");
  assert.match(dockerfile, /^USER node$/m, "runs as an unprivileged user");
  assert.match(dockerfile, /^HEALTHCHECK .*\n?.*\/health/m);
  assert.match(dockerfile, /^VOLUME \["\/data"\]$/m);
  const env = Object.fromEntries(
    [...dockerfile.matchAll(/^(?:ENV)?\s+([A-Z_]+)=(\S+?)(?: \\)?$/gm)].map((m) => [m[1]!, m[2]!]),
  );
  assert.deepEqual(env, {
    NODE_ENV: "production",
    HOST: "0.0.0.0",
    PORT: "8080",
    DATA_DIR: "/data",
    MALLOC_ARENA_MAX: "2",
  });
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  assert.deepEqual(cmd, ["node", "dist/main.js", "start"]);

  // The built package (npm install builds it); the image's environment, with a port and data
  // directory of this machine's (and loopback: this is a shared machine), and production secrets.
  assert.ok(existsSync(join(ROOT, "dist/main.js")), "dist/ is built (npm run build)");
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-image-"));
  const child = spawn(process.execPath, cmd.slice(1), {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      ...productionEnv(),
      ...env,
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: dataDir,
      PUBLIC_URL: "https://api.example.com",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.once("exit", done));
  try {
    // Wait for the listening line rather than polling on a timer.
    await new Promise<void>((done, fail) => {
      child.stdout.on("data", () => {
        if (/bulwark listening/.test(output)) done();
      });
      void exited.then((code) => fail(new Error(`exited ${code}: ${output}`)));
    });
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(res.status, 200, output);
    assert.deepEqual(await res.json(), { status: "ok" });
  } finally {
    child.kill("SIGTERM");
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
});
