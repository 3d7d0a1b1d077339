// `node --import tsx bench/instructions.ts`: machine instructions the server executes per request,
// counted by valgrind's callgrind, for bare Fastify and Bulwark's scenarios, each as a ratio to bare
// Fastify. Unlike req/s, an instruction count does not move when other work shares the machine, so
// two trees (before and after a change) can be compared on a busy machine. Slow: each server starts
// under valgrind (about a minute), warms up uninstrumented, then counts --requests requests.
// Options: --scenarios bare,bulwark-memory,bulwark-me-memory,bulwark-key-memory --requests 3000 --warmup 3000
// Needs Debian's valgrind (callgrind_control). See bench/README.md.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { ROOT, textTable } from "./lib.js";
import { IDENTITY_SCENARIOS, KEY_SCENARIOS, SCENARIOS, type Scenario } from "./server.js";

const { values } = parseArgs({
  options: {
    scenarios: { type: "string", default: "bare,bulwark-memory,bulwark-me-memory,bulwark-key-memory" },
    requests: { type: "string", default: "3000" },
    warmup: { type: "string", default: "3000" },
  },
});
const scenarios = values.scenarios.split(",") as Scenario[];
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`);
const requests = Number(values.requests);
const warmup = Number(values.warmup);

const PATHS: Partial<Record<Scenario, string>> = {
  "bulwark-me-memory": "/api/users/me",
  "bulwark-me-pg-redis": "/api/users/me",
  "bulwark-key-memory": "/api/bench/key",
};

async function load(url: string, amount: number, headers: Record<string, string>): Promise<number> {
  const result = await autocannon({ url, amount, connections: 4, headers, timeout: 600 });
  const ok = result["2xx"];
  if (ok !== amount)
    throw new Error(
      `${url}: ${ok} of ${amount} answered 2xx (${JSON.stringify(result.statusCodeStats)}, ${result.timeouts} timeouts)`,
    );
  return ok;
}

async function measure(scenario: Scenario): Promise<number> {
  const out = mkdtempSync(join(tmpdir(), "bulwark-callgrind-"));
  const child = spawn(
    "valgrind",
    [
      "--tool=callgrind",
      "--instr-atstart=no",
      "--smc-check=all",
      `--callgrind-out-file=${join(out, "cg.%p")}`,
      process.execPath,
      "--import",
      "tsx",
      "bench/server.ts",
      scenario,
    ],
    { cwd: ROOT, stdio: ["pipe", "pipe", "ignore"] },
  );
  try {
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const port = Number((await lines.next()).value);
    const secret = IDENTITY_SCENARIOS.includes(scenario) ? String((await lines.next()).value) : undefined;
    const headers: Record<string, string> = secret ? { authorization: `Bearer ${secret}` } : {};
    if (KEY_SCENARIOS.includes(scenario) && !secret?.startsWith("bwk_"))
      throw new Error("the key scenario printed no key");
    const url = `http://127.0.0.1:${port}${PATHS[scenario] ?? "/hello"}`;
    const control = (flag: string) => execFileSync("callgrind_control", [flag, String(child.pid)], { stdio: "ignore" });
    await load(url, warmup, headers);
    control("--instr=on");
    control("--zero");
    const counted = await load(url, requests, headers);
    control("--dump");
    const dump = readdirSync(out)
      .filter((f) => /\.\d+$/.test(f))
      .map((f) => readFileSync(join(out, f), "utf8"))
      .join("\n");
    const totals = [...dump.matchAll(/^totals: (\d+)/gm)].map((m) => Number(m[1]));
    if (totals.length === 0) throw new Error("callgrind wrote no totals");
    return Math.max(...totals) / counted;
  } finally {
    child.kill("SIGKILL");
    rmSync(out, { recursive: true, force: true });
  }
}

const results = new Map<Scenario, number>();
for (const scenario of scenarios) {
  process.stdout.write(`${scenario} ... `);
  const perRequest = await measure(scenario);
  results.set(scenario, perRequest);
  console.log(`${Math.round(perRequest).toLocaleString("en-US")} instructions per request`);
}
const bare = results.get("bare");
const rows = [["scenario", "instructions/request", "ratio (bare / scenario)"]];
for (const [scenario, perRequest] of results)
  rows.push([scenario, Math.round(perRequest).toLocaleString("en-US"), bare ? (bare / perRequest).toFixed(2) : ""]);
console.log(`\n${textTable(rows)}`);
