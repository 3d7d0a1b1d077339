// Runs every *.test.ts under src/ and test/ with Node's test runner through tsx. Node 20's runner
// does not expand glob patterns, so the files are listed here. Extra arguments pass through
// (e.g. `npm test -- --test-name-pattern=cors`); file arguments narrow the run to those files.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
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
// Test files run one per core (TEST_CONCURRENCY overrides): each is its own process with its own
// app, database and Redis prefix, and much of a file's time is waiting (start-up, Argon2, a
// database), so two at a time on two cores nearly halves the run. The topology tests
// (test/topology/) start whole deployments and kill parts of them: with TEST_TOPOLOGY=1 they run
// after the rest, one file at a time, with a longer bound per file; without it they are skipped.
const concurrency = Number(process.env.TEST_CONCURRENCY) || availableParallelism();
const runner = (list, timeout, files = concurrency) =>
  spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", `--test-concurrency=${files}`, `--test-timeout=${timeout}`, ...options, ...list],
    { stdio: "inherit" },
  ).status ?? 1;
const topology = process.env.TEST_TOPOLOGY === "1" ? files.filter((f) => f.split(/[\\/]/).includes("topology")) : [];
const rest = files.filter((f) => !topology.includes(f));
const first = rest.length > 0 ? runner(rest, 180000) : 0;
const second = topology.length > 0 ? runner(topology, 1200000, 1) : 0;
process.exit(first || second);
