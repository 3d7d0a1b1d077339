// Attack: brute force of a short secret — a random but short SECRET_KEY (24 bytes, the size of many tutorial keys) must be refused for its length alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { ConfigError, loadConfig, type Env } from "./load.js";
import { productionEnv } from "../../test/harness.js";

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * A base64url value of `bytes` bytes whose characters are all different: as high in entropy as its
 * length allows (log2(64) = 6 bits a character) and never periodic, so only the length can fail it.
 */
function distinctBase64url(bytes: number): string {
  const length = Math.ceil((bytes * 4) / 3);
  for (;;) {
    const pool = [...BASE64URL];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    const value = pool.slice(0, length).join("");
    // Generic words at the start are refused as examples; draw again rather than test that rule here.
    if (!/^(secret|password|default|test|dev|demo|sample|dummy|insecure)/i.test(value)) return value;
  }
}

function problemsFor(env: Env): { setting: string; message: string }[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
}

for (const setting of ["SECRET_KEY", "METRICS_TOKEN"]) {
  test(`production refuses a random, high-entropy ${setting} of 24 bytes, for its length only`, () => {
    for (const bytes of [24, 31]) {
      const value = distinctBase64url(bytes);
      assert.equal(Buffer.from(value, "base64url").length, bytes);
      assert.equal(new Set(value).size, value.length, "every character different: entropy is not the problem");
      const problems = problemsFor({ ...productionEnv(), [setting]: value }).filter((p) => p.setting === setting);
      assert.equal(problems.length, 1, `${bytes} bytes: ${JSON.stringify(problems)}`);
      assert.match(problems[0]!.message, /shorter than 32 bytes/);
      assert.doesNotMatch(problems[0]!.message, /entropy/);
    }
  });

  test(`control: the same kind of ${setting} at 32 bytes is accepted`, () => {
    const value = distinctBase64url(32);
    assert.equal(Buffer.from(value, "base64url").length, 32);
    assert.deepEqual(problemsFor({ ...productionEnv(), [setting]: value }), []);
  });
}
