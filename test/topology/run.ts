// The topology by hand: `node --import tsx test/topology/run.ts up [instances]` starts PostgreSQL,
// Redis, the Bulwark instances and nginx on loopback and stays in the foreground (Ctrl-C tears it
// all down); `down`, from another shell, stops a running `up` (it signals that process, which kills
// only what it started). The state file says where everything is.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processAlive } from "../../src/core/process.js";
import { startTopology } from "./topology.js";

const STATE = join(tmpdir(), "bulwark-topology.json");
const [command = "up", count = "3"] = process.argv.slice(2);

if (command === "up") {
  if (existsSync(STATE)) {
    const { pid } = JSON.parse(readFileSync(STATE, "utf8")) as { pid: number };
    if (processAlive(pid)) {
      console.error(
        `a topology is already up (process ${pid}); stop it first: node --import tsx test/topology/run.ts down`,
      );
      process.exit(1);
    }
  }
  const topology = await startTopology({ instances: Number(count), log: (line) => console.log(`== ${line}`) });
  const state = {
    pid: process.pid,
    proxy: topology.base,
    instances: topology.instances.map((i) => ({ base: i.base, pid: i.pid })),
    database: topology.pg.url,
    redis: topology.redis.url,
    dir: topology.dir,
  };
  writeFileSync(STATE, JSON.stringify(state, null, 2));
  process.on("exit", () => rmSync(STATE, { force: true }));
  console.log(`== up: proxy ${topology.base}`);
  for (const i of state.instances) console.log(`   instance ${i.base} (pid ${i.pid})`);
  console.log(`   PostgreSQL ${state.database}\n   Redis ${state.redis}\n   files ${state.dir}`);
  console.log(`== Ctrl-C, or \`node --import tsx test/topology/run.ts down\`, tears it down`);
  const stop = async () => {
    await topology.close();
    process.exit(0);
  };
  // Replaces the module's own handlers' abrupt kill with a graceful stop when asked to go down.
  process.removeAllListeners("SIGTERM");
  process.removeAllListeners("SIGINT");
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
  setInterval(() => undefined, 1 << 30);
} else if (command === "down") {
  if (!existsSync(STATE)) {
    console.log("no topology is up");
    process.exit(0);
  }
  const { pid } = JSON.parse(readFileSync(STATE, "utf8")) as { pid: number };
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    rmSync(STATE, { force: true });
    console.log("the topology's process was already gone");
    process.exit(0);
  }
  for (let i = 0; i < 300 && existsSync(STATE); i++) await new Promise((r) => setTimeout(r, 100));
  console.log(existsSync(STATE) ? `process ${pid} did not stop in 30 s` : "down");
} else {
  console.error("usage: node --import tsx test/topology/run.ts up [instances] | down");
  process.exit(2);
}
