// `node --import tsx bench/gateway.ts [--duration 5] [--connections 20]`: the cost of gateway mode.
// One fast upstream (a bare Node server answering a small JSON body) is loaded three ways, one
// after the other, by autocannon from this process:
//   direct       — straight to the upstream;
//   bare-proxy   — through bare @fastify/http-proxy, no protections;
//   gateway      — through Bulwark (memory counters, PGlite), an authenticated GET on a `user` rule:
//                  token check, rate limit, signed identity headers, header policy both ways.
// Printed: req/s, p50 and p99 latency, the gateway's throughput over bare-proxy's (goal ≥ 0.7)
// and its added p50 over direct (goal ≤ 1 ms). Everything shares one machine, so on a busy or
// two-core box the figures are indicative only; compare ratios from the same run.
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import Fastify from "fastify";
import httpProxy from "@fastify/http-proxy";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { randomToken } from "../src/core/crypto/index.js";
import { signedIn } from "../test/identity.js";
import { benchSecrets, textTable } from "./lib.js";

const { values } = parseArgs({
  options: { duration: { type: "string", default: "5" }, connections: { type: "string", default: "20" } },
});
const duration = Number(values.duration);
const connections = Number(values.connections);

const body = JSON.stringify({ ok: true, items: [1, 2, 3] });
const upstream = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;

const bare = Fastify({ logger: false });
await bare.register(httpProxy, { upstream: upstreamUrl, prefix: "/app", rewritePrefix: "/app" });
await bare.listen({ host: "127.0.0.1", port: 0 });

const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-gateway-"));
const rules = join(dir, "rules.yaml");
writeFileSync(rules, "rules:\n  - { name: app, prefix: /app, methods: [GET], auth: user }\n");
const config = loadConfig(
  {
    DATA_DIR: join(dir, "data"),
    LOG_LEVEL: "silent",
    ...benchSecrets(),
    UPSTREAM_URL: upstreamUrl,
    GATEWAY_RULES: rules,
    GATEWAY_SECRET: randomToken(32),
    RATE_LIMIT_PER_MINUTE: "100000000",
    RATE_LIMIT_PER_HOUR: "100000000",
    AUTH_REGISTER_PER_MINUTE: "1000",
    AUTH_LOGIN_PER_MINUTE: "1000",
  },
  { generateDevSecrets: false },
);
const gateway = await createApp(config);
await gateway.listen({ host: "127.0.0.1", port: 0 });
const user = await signedIn(gateway);

type Row = { name: string; reqPerSec: number; p50: number; p99: number; non2xx: number };
async function load(name: string, url: string, headers: Record<string, string> = {}): Promise<Row> {
  await autocannon({ url, connections, duration: 1, headers }); // warm-up
  const r = await autocannon({ url, connections, duration, headers });
  return { name, reqPerSec: r.requests.mean, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx };
}

const address = (app: { server: { address(): unknown } }) =>
  `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const direct = await load("direct", `${upstreamUrl}/app/items`);
const bareProxy = await load("bare-proxy", `${address(bare)}/app/items`);
const through = await load("gateway", `${address(gateway)}/app/items`, { authorization: `Bearer ${user.access}` });

console.log(
  textTable([
    ["scenario", "req/s", "p50 ms", "p99 ms", "non-2xx"],
    ...[direct, bareProxy, through].map((r) => [
      r.name,
      r.reqPerSec.toFixed(0),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      String(r.non2xx),
    ]),
  ]),
);
console.log(`gateway / bare-proxy throughput: ${(through.reqPerSec / bareProxy.reqPerSec).toFixed(2)} (goal ≥ 0.7)`);
console.log(`gateway added p50 over direct: ${(through.p50 - direct.p50).toFixed(2)} ms (goal ≤ 1 ms)`);

await gateway.close();
await bare.close();
upstream.close();
