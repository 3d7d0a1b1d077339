// In development a malformed setting stops the start, and only it is named as the reason: the
// production rules it would also break are warnings there, and listing them as fatal sends the
// newcomer fixing the wrong things (setting SMTP_URL to cure a typo in PORT).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { captureOutput, explainConfigError } from "../cli/output.js";
import { ConfigError, loadConfig } from "./load.js";

test("a development config error lists the malformed setting as the error and production rules as warnings", () => {
  const env = { DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-dev-")), PORT: "eighty" };
  let error: unknown;
  try {
    loadConfig(env, { generateDevSecrets: false });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError);
  assert.deepEqual(
    error.problems.map((p) => p.setting),
    ["PORT"],
  );
  assert.ok(error.warnings.length > 0, "the production rules are kept, as warnings");
  assert.ok(!error.message.includes("SMTP_URL"), error.message);

  const out = captureOutput();
  explainConfigError(error, out.error);
  const printed = out.errors.join("\n");
  const [fatal, warnings] = printed.split(/production/i);
  assert.match(fatal!, /PORT/);
  assert.ok(!/SECRET_KEY|SMTP_URL/.test(fatal!), printed);
  assert.match(warnings ?? "", /SMTP_URL|SECRET_KEY/);
});

test("in production every rule is fatal, all listed at once", () => {
  const env = { NODE_ENV: "production", DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-prod-")), PORT: "eighty" };
  assert.throws(
    () => loadConfig(env, { generateDevSecrets: false }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.problems.some((p) => p.setting === "PORT") &&
      e.problems.some((p) => p.setting === "SECRET_KEY") &&
      e.warnings.length === 0,
  );
});
