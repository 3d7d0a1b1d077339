// `bulwark check [--url URL] [--json]`: the deployment checklist. It judges the configuration by the
// production rules (whatever NODE_ENV says: this is what production would refuse), reaches the
// database and Redis, and with --url probes a running instance from outside the way an attacker's
// scanner would: security headers, CORS, protected metrics, error bodies, public settings, JWKS.
// Exit code 1 when any check fails.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig, readEnv, type Config, type Env } from "../config/load.js";
import { secretShape } from "../config/production.js";
import { openStore } from "../store/db.js";
import { MIGRATIONS_FOLDER } from "../store/migrate.js";
import { parseStrict, usageExit } from "./common.js";
import type { Output } from "./output.js";
import { loadRules } from "../modules/gateway/index.js";
import { redisClass } from "../store/redis.js";

const HELP = `Usage: bulwark check [--url URL] [--json]

The deployment checklist. Checks the configuration against the production rules, that .env is
private, that the database answers and its migrations are applied, and that Redis answers. With
--url, also probes the running instance at URL: health and readiness, https, security headers,
CORS against a foreign origin, /metrics without its token, the error body of an unknown path,
/env.js free of secrets, and a JWKS without private parts. Exits 1 when any check fails.`;

export type CheckStatus = "pass" | "warn" | "fail";
export type CheckResult = { name: string; status: CheckStatus; message: string };

const PROBE_TIMEOUT_MS = 5_000;
const FOREIGN_ORIGIN = "https://bulwark-check.invalid";
/** JWK members that only private keys have. */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k"];

/** Runs `bulwark check`; returns the exit code. */
export async function checkCommand(
  argv: string[],
  out: Output,
  env: Env = readEnv(),
  cwd = process.cwd(),
): Promise<number> {
  let values;
  try {
    values = parseStrict(argv, { url: { type: "string" }, json: { type: "boolean" } });
  } catch (error) {
    const code = usageExit(error, "check", undefined, (line) => out.error(line));
    if (code !== undefined) return code;
    throw error;
  }
  if (values.help) return out.help(HELP);
  const results = await runChecks(env, cwd, typeof values.url === "string" ? values.url : undefined);
  const failed = results.filter((r) => r.status === "fail").length;
  if (values.json) {
    out.line(JSON.stringify({ ok: failed === 0, checks: results }, null, 2));
  } else {
    for (const r of results) out.line(`${r.status.toUpperCase().padEnd(4)}  ${r.name}: ${r.message}`);
    const warned = results.filter((r) => r.status === "warn").length;
    out.line(`\n${results.length - failed - warned} passed, ${warned} warnings, ${failed} failed`);
  }
  return failed === 0 ? 0 : 1;
}

/** Every check, in the order they are reported. */
export async function runChecks(env: Env, cwd: string, url: string | undefined): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (name: string, status: CheckStatus, message: string) => results.push({ name, status, message });

  // Development secrets are never generated here: a checklist must not write files, and a missing
  // secret is exactly what it should report.
  let config: Config | undefined;
  try {
    // Loading as production throws on any rule broken, so a configuration that loads passes them all.
    config = loadConfig({ ...env, NODE_ENV: "production" }, { generateDevSecrets: false });
    add("config", "pass", "every production rule holds");
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) add(`config ${p.setting}`, "fail", p.message);
    // Keep going with what development would accept, so the service checks still run.
    try {
      config = loadConfig({ ...env, NODE_ENV: "development" }, { generateDevSecrets: false });
    } catch {
      config = undefined;
    }
  }
  if (env.NODE_ENV !== "production")
    add(
      "NODE_ENV",
      "warn",
      `is "${env.NODE_ENV ?? "development"}": the rules above are what production enforces; set NODE_ENV=production when deploying`,
    );
  results.push(...envFileChecks(cwd));
  if (config) results.push(await databaseCheck(config), await redisCheck(config), ...gatewayChecks(config));
  if (url) results.push(...(await probe(url)));
  return results;
}

/** `.env` holds every secret: it must be readable by its owner only and kept out of git. */
function envFileChecks(cwd: string): CheckResult[] {
  const file = join(cwd, ".env");
  if (!existsSync(file)) return [];
  const results: CheckResult[] = [];
  const mode = statSync(file).mode & 0o777;
  results.push(
    (mode & 0o077) === 0
      ? { name: ".env permissions", status: "pass", message: `mode ${mode.toString(8)}` }
      : {
          name: ".env permissions",
          status: "fail",
          message: `mode ${mode.toString(8)} lets other users read the secrets: chmod 600 .env`,
        },
  );
  if (existsSync(join(cwd, ".git"))) {
    const ignore = existsSync(join(cwd, ".gitignore")) ? readFileSync(join(cwd, ".gitignore"), "utf8") : "";
    const listed = ignore.split(/\r?\n/).some((line) => ["/.env", ".env", ".env*"].includes(line.trim()));
    results.push(
      listed
        ? { name: ".env in .gitignore", status: "pass", message: "listed" }
        : {
            name: ".env in .gitignore",
            status: "fail",
            message: "not listed, so a commit could publish every secret: add .env to .gitignore",
          },
    );
  }
  return results;
}

/** Gateway mode: the rules file is valid (the start would refuse it otherwise). */
function gatewayChecks(config: Config): CheckResult[] {
  if (!config.gateway) return [];
  try {
    const rules = loadRules(config.gateway.rulesFile, { bodyLimit: config.maxBodyBytes });
    const open = rules
      .filter((r) => r.auth === "public" && r.methods.some((m) => m !== "GET" && m !== "HEAD"))
      .map((r) => r.name);
    return [
      {
        name: "gateway rules",
        status: "pass",
        message: `${rules.length} rule(s), identity by ${config.gateway.identity}`,
      },
      ...(open.length > 0
        ? [
            {
              name: "gateway public writes",
              status: "warn" as const,
              message: `rule(s) ${open.join(", ")} let anyone write to the upstream: make sure that is meant`,
            },
          ]
        : []),
    ];
  } catch (error) {
    return [{ name: "gateway rules", status: "fail", message: (error as Error).message }];
  }
}

/** The database answers and every committed migration is applied. */
async function databaseCheck(config: Config): Promise<CheckResult> {
  const name = "database";
  // PGlite allows one process per data directory, and a running server holds it: not opened here.
  if (!config.databaseUrl)
    return {
      name,
      status: "warn",
      message: "embedded PGlite under DATA_DIR: one instance only; set DATABASE_URL to run several",
    };
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta", "_journal.json"), "utf8")) as {
    entries: unknown[];
  };
  let store;
  try {
    store = await openStore({ databaseUrl: config.databaseUrl, onError: () => undefined });
    await store.ping(PROBE_TIMEOUT_MS);
    if (store.driver.kind !== "postgres")
      return { name, status: "fail", message: "unexpected embedded driver for DATABASE_URL" };
    const applied = await store.driver.pool
      .query<{ n: string }>("select count(*) as n from drizzle.__drizzle_migrations")
      .then(
        (r) => Number(r.rows[0]?.n ?? 0),
        () => 0,
      );
    const pending = journal.entries.length - applied;
    return pending > 0
      ? { name, status: "fail", message: `${pending} migration(s) pending: run \`bulwark migrate\`` }
      : { name, status: "pass", message: `reachable, ${applied} migrations applied` };
  } catch (error) {
    return {
      name,
      status: "fail",
      message: `unreachable: ${(error as Error).message.replace(/\/\/[^@\s]*@/g, "//***@")}`,
    };
  } finally {
    await store?.close();
  }
}

/** Redis answers when configured; without it, limits and revocation hold per instance only. */
async function redisCheck(config: Config): Promise<CheckResult> {
  const name = "redis";
  if (!config.redisUrl)
    return {
      name,
      status: "warn",
      message: "not configured: counters and revocations are per instance; set REDIS_URL to run several",
    };
  const redis = new (redisClass())(config.redisUrl, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return { name, status: "pass", message: "reachable" };
  } catch (error) {
    return { name, status: "fail", message: `unreachable: ${(error as Error).message}` };
  } finally {
    redis.disconnect();
  }
}

type Probe = { status: number; headers: Headers; body: string };

async function fetchProbe(url: string, init: RequestInit = {}): Promise<Probe> {
  const response = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Probes a running instance from outside. */
export async function probe(base: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (name: string, ok: boolean, pass: string, fail: string, warn = false) =>
    results.push({ name, status: ok ? "pass" : warn ? "warn" : "fail", message: ok ? pass : fail });
  const root = base.replace(/\/+$/, "");
  let health: Probe;
  try {
    health = await fetchProbe(`${root}/health`);
  } catch (error) {
    return [{ name: "probe", status: "fail", message: `${root} unreachable: ${(error as Error).message}` }];
  }
  add("probe /health", health.status === 200, "200", `status ${health.status}`);
  const ready = await fetchProbe(`${root}/ready`);
  add("probe /ready", ready.status === 200, ready.body, `status ${ready.status}: ${ready.body.slice(0, 200)}`);
  // Gateway mode: the instance reaches its upstream.
  const upstream = /"upstream":"(ok|down)"/.exec(ready.body)?.[1];
  if (upstream)
    add(
      "probe upstream",
      upstream === "ok",
      "the gateway reaches its upstream",
      "the gateway cannot reach UPSTREAM_URL: proxied requests get 502",
    );
  const https = root.startsWith("https://");
  add("probe https", https, "served over https", "served over http: put TLS in front and probe the https URL");

  const h = health.headers;
  const hsts = /max-age=(\d+)/.exec(h.get("strict-transport-security") ?? "");
  add(
    "header Strict-Transport-Security",
    hsts !== null && Number(hsts[1]) >= 31_536_000,
    h.get("strict-transport-security") ?? "",
    "missing or under a year: NODE_ENV=production sends max-age=63072000; includeSubDomains",
    !https,
  );
  const expected: [string, (v: string) => boolean][] = [
    ["x-content-type-options", (v) => v === "nosniff"],
    ["x-frame-options", (v) => v.toUpperCase() === "DENY"],
    ["content-security-policy", (v) => /frame-ancestors 'none'/.test(v)],
    ["referrer-policy", (v) => v === "no-referrer"],
    ["cache-control", (v) => v.includes("no-store")],
  ];
  for (const [header, ok] of expected) {
    const value = h.get(header);
    add(`header ${header}`, value !== null && ok(value), value ?? "", `missing or weak (${value ?? "absent"})`);
  }
  add(
    "header X-Powered-By",
    !h.has("x-powered-by"),
    "absent",
    `present (${h.get("x-powered-by")}): it tells scanners what to attack`,
  );

  const cors = await fetchProbe(`${root}/api/users/me`, {
    method: "OPTIONS",
    headers: { origin: FOREIGN_ORIGIN, "access-control-request-method": "GET" },
  });
  const allowed = cors.headers.get("access-control-allow-origin");
  add(
    "CORS foreign origin",
    allowed !== "*" && allowed !== FOREIGN_ORIGIN,
    "a foreign origin is not allowed",
    `a foreign origin is allowed (${allowed}): list exact origins in CORS_ORIGINS`,
  );

  const metrics = await fetchProbe(`${root}/metrics`);
  add(
    "/metrics protected",
    metrics.status === 401 || metrics.status === 404,
    `status ${metrics.status} without the token`,
    `status ${metrics.status} without a token: metrics must need METRICS_TOKEN`,
  );

  const missing = await fetchProbe(`${root}/bulwark-check-${Date.now()}`);
  let envelope = false;
  try {
    envelope = typeof (JSON.parse(missing.body) as { error?: { code?: unknown } }).error?.code === "string";
  } catch {
    envelope = false;
  }
  const leaky = /\bat [\w.<>]+ \(|node_modules|\/src\//.test(missing.body);
  add(
    "error body",
    missing.status === 404 && envelope && !leaky,
    "404 with the JSON error envelope, no stack",
    `status ${missing.status}, ${leaky ? "a stack trace or path leaks" : "not the error envelope"}`,
  );

  const envJs = await fetchProbe(`${root}/env.js`);
  const shapes =
    envJs.status === 200
      ? [...envJs.body.matchAll(/"([^"\\]*(?:\\.[^"\\]*)*)"/g)].map((m) => secretShape(m[1] ?? "")).filter(Boolean)
      : [];
  add("/env.js", shapes.length === 0, "no secret-looking values", `exposes ${shapes.join(", ")}`);

  const jwks = await fetchProbe(`${root}/.well-known/jwks.json`);
  let keys: Record<string, unknown>[] = [];
  try {
    keys = (JSON.parse(jwks.body) as { keys?: Record<string, unknown>[] }).keys ?? [];
  } catch {
    keys = [];
  }
  const exposed = keys.some((k) => PRIVATE_JWK_MEMBERS.some((m) => m in k));
  add(
    "JWKS",
    jwks.status === 200 && keys.length > 0 && !exposed,
    `${keys.length} public key(s)`,
    exposed ? "a key has private members" : `status ${jwks.status}, ${keys.length} keys`,
  );
  return results;
}
