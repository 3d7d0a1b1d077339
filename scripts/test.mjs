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
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=180000", ...options, ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
