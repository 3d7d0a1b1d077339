// `npm run mutation -- --module <name> [stryker options]`: mutation testing of one security-critical module
// (crypto, http, tokens, sessions, api-keys, audit, mfa, accounts, webhooks), running only that module's
// tests against each mutant. `--tests a.test.ts,b.test.ts` runs only those test files instead (for a
// quick run on a few files). Extra options go to Stryker, e.g. `--mutate src/core/crypto/hash.ts` to
// narrow the run to files. `--list` prints the modules, what each mutates and which tests it runs.
// Not part of .ci/run: a module takes minutes to hours on two cores.
import { spawnSync } from "node:child_process";
import { MODULES } from "./mutation-modules.mjs";

const args = process.argv.slice(2);
if (args.includes("--list")) {
  for (const [name, m] of Object.entries(MODULES))
    console.log(`${name}\n  mutate: ${m.mutate.join(" ")}\n  tests:  ${m.tests().join(" ")}`);
  process.exit(0);
}
const at = args.indexOf("--module");
const name = at >= 0 ? args[at + 1] : undefined;
if (!name || !MODULES[name]) {
  console.error(
    `usage: npm run mutation -- --module <${Object.keys(MODULES).join("|")}> [--mutate <file,...>] [--tests <file,...>]   (or --list)`,
  );
  process.exit(2);
}
const testsAt = args.indexOf("--tests");
const tests = testsAt >= 0 ? args[testsAt + 1] : undefined;
const rest = args.filter((_, i) => i !== at && i !== at + 1 && (testsAt < 0 || (i !== testsAt && i !== testsAt + 1)));
const result = spawnSync(
  process.execPath,
  ["node_modules/@stryker-mutator/core/bin/stryker.js", "run", "stryker.config.mjs", ...rest],
  {
    stdio: "inherit",
    env: { ...process.env, BULWARK_MUTATION_MODULE: name, ...(tests ? { BULWARK_MUTATION_TESTS: tests } : {}) },
  },
);
process.exit(result.status ?? 1);
