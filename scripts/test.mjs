// Runs every *.test.ts under src/ and test/ with Node's test runner through tsx. Node 20's runner
// does not expand glob patterns, so the files are listed here. Extra arguments pass through
// (e.g. `npm test -- --test-name-pattern=cors`); file arguments narrow the run to those files.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const chosen = args.filter((a) => a.endsWith(".ts"));
const options = args.filter((a) => !a.endsWith(".ts"));
const files =
  chosen.length > 0
    ? chosen
    : ["src", "test"]
        .flatMap((dir) =>
          readdirSync(dir, { recursive: true, withFileTypes: true })
            .filter((entry) => entry.isFile() && entry.name.endsWith(".test.ts"))
            .map((entry) => join(entry.parentPath, entry.name)),
        )
        .sort();
// The topology tests (test/topology/) start whole deployments: with TEST_TOPOLOGY=1 they run after
// the rest with a longer bound per file; without it they are skipped in the main run.
const runner = (list, timeout) =>
  spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=1", `--test-timeout=${timeout}`, ...options, ...list],
    { stdio: "inherit" },
  ).status ?? 1;
const topology = process.env.TEST_TOPOLOGY === "1" ? files.filter((f) => f.split(/[\\/]/).includes("topology")) : [];
const rest = files.filter((f) => !topology.includes(f));
const first = rest.length > 0 ? runner(rest, 180000) : 0;
const second = topology.length > 0 ? runner(topology, 1200000) : 0;
process.exit(first || second);
