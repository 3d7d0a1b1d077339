// Mutation testing of the security-critical paths, one module at a time: `npm run mutation -- --module crypto`
// (see scripts/mutation.mjs and docs/testing.md). Each mutant runs only its module's tests through the
// project's own runner (node --test via tsx); the TypeScript checker drops mutants that do not compile.
import { MODULES } from "./scripts/mutation-modules.mjs";

const name = process.env.BULWARK_MUTATION_MODULE ?? "crypto";
const module = MODULES[name];
if (!module) throw new Error(`unknown module ${name}; one of: ${Object.keys(MODULES).join(", ")}`);
// `--tests` of scripts/mutation.mjs: a narrower set of test files for a quick run on a few source files.
const tests = process.env.BULWARK_MUTATION_TESTS ? process.env.BULWARK_MUTATION_TESTS.split(",") : module.tests();

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "command",
  commandRunner: { command: `node scripts/test.mjs ${tests.join(" ")}` },
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  mutate: module.mutate,
  reporters: ["clear-text", "progress", "json", "html"],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  // Two cores: one mutant at a time per core; a module's tests take seconds to a minute each run.
  concurrency: 2,
  timeoutMS: 30_000,
  tempDirName: ".stryker-tmp",
  ignorePatterns: ["dist", "reports", "bench/results", "data", ".stryker-tmp"],
  cleanTempDir: "always",
};
