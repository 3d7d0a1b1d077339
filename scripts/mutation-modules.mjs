// The security-critical paths under mutation testing: for each module, what Stryker mutates (directory
// globs, so files that move inside a module stay covered) and which test files run against each mutant
// (the tests beside the code, plus the cross-cutting ones that exercise it). Read by stryker.config.mjs.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Every *.test.ts under the given directories (recursively), sorted. */
function testsUnder(...dirs) {
  return dirs
    .filter((dir) => existsSync(dir))
    .flatMap((dir) =>
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith(".test.ts"))
        .map((e) => join(e.parentPath, e.name)),
    )
    .sort();
}

const source = (dir) => [`${dir}/**/*.ts`, `!${dir}/**/*.test.ts`];

/** @type {Record<string, { mutate: string[]; tests: () => string[] }>} */
export const MODULES = {
  crypto: {
    mutate: source("src/core/crypto"),
    tests: () => [...testsUnder("src/core/crypto"), "test/timing-safe.test.ts"],
  },
  http: { mutate: source("src/http"), tests: () => [...testsUnder("src/http"), "src/app.test.ts"] },
  tokens: { mutate: source("src/modules/tokens"), tests: () => testsUnder("src/modules/tokens") },
  sessions: { mutate: source("src/modules/sessions"), tests: () => testsUnder("src/modules/sessions") },
  "api-keys": {
    mutate: source("src/modules/api-keys"),
    tests: () => [...testsUnder("src/modules/api-keys"), "src/http/rate-limit.failed-auth.test.ts"],
  },
  audit: {
    mutate: source("src/modules/audit"),
    tests: () => [...testsUnder("src/modules/audit"), "src/cli/audit.test.ts"],
  },
  mfa: { mutate: source("src/modules/mfa"), tests: () => testsUnder("src/modules/mfa") },
  accounts: {
    mutate: source("src/modules/accounts"),
    tests: () => [...testsUnder("src/modules/accounts"), "test/security-events.test.ts"],
  },
  webhooks: { mutate: source("src/modules/webhooks"), tests: () => testsUnder("src/modules/webhooks") },
};
