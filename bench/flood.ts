// The login flood of the `me-under-login-flood` scenario, in its own process so that its load
// generator does not share an event loop with the /me measurement in run.ts:
// `node --import tsx bench/flood.ts '<json options>'`. Prints `started` when autocannon is running,
// then one JSON line with the outcome when the flood ends.
//
// Every request is `POST /api/auth/login` with a wrong password for a login name never used before
// (a random prefix and a counter): no name reaches the lockout threshold, so every request costs
// what an attacker's guess costs, one Argon2 verification (of the dummy hash, as for any unknown
// name) plus the failure bookkeeping.
import { randomBytes } from "node:crypto";
import autocannon from "autocannon";

export type FloodOptions = { url: string; connections: number; duration: number };

export type FloodOutcome = {
  connections: number;
  seconds: number;
  requests: number;
  reqPerSec: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Latency of all answers (401, 503, 429 alike), ms. */
  latencyMs: { p50: number; p99: number; max: number };
};

const options = JSON.parse(process.argv[2] ?? "{}") as FloodOptions;
const prefix = `flood_${randomBytes(6).toString("hex")}_`;
let sent = 0;
const run = autocannon({
  url: options.url,
  method: "POST",
  headers: { "content-type": "application/json" },
  // A fresh body per request (autocannon's own idReplacement miscounts Content-Length).
  requests: [
    {
      setupRequest: (req) => ({
        ...req,
        body: JSON.stringify({ login: `${prefix}${sent++}`, password: "not the password" }),
      }),
    },
  ],
  connections: options.connections,
  pipelining: 1,
  duration: options.duration,
  // A login waits its turn in the hasher's queue: seconds, not milliseconds, under a flood.
  timeout: 30,
});
process.stdout.write("started\n");
const result = await run;
const outcome: FloodOutcome = {
  connections: options.connections,
  seconds: result.duration,
  requests: result.requests.total,
  reqPerSec: result.requests.mean,
  statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
  errors: result.errors,
  timeouts: result.timeouts,
  latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
};
process.stdout.write(`${JSON.stringify(outcome)}\n`);
