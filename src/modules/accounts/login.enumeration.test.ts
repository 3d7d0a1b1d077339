// Threat: account enumeration — learning which usernames exist from login answers or their timing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPasswordHasher } from "../../core/crypto/index.js";
import { startApp } from "../../../test/harness.js";
import { login, register } from "../../../test/identity.js";

test("unknown user, wrong password and disabled account get the same status and body, each for one password verification", async () => {
  const hasher = createPasswordHasher();
  const t = await startApp({ hasher, env: { AUTH_LOGIN_PER_MINUTE: "100", RATE_LIMIT_PER_MINUTE: "1000" } });
  try {
    const known = await register(t.app);
    const disabled = await register(t.app);
    await t.app.bulwark.accounts.setDisabled(disabled.userId, true, { userId: null });
    const attempts = [
      { what: "unknown user", login: "nobody_here", password: known.password },
      { what: "unknown email", login: "nobody@example.com", password: known.password },
      { what: "wrong password", login: known.username, password: `${known.password}x` },
      { what: "disabled account, right password", login: disabled.username, password: disabled.password },
    ];
    const answers = [];
    for (const a of attempts) {
      const before = hasher.stats().verifications;
      const res = await login(t.app, { username: a.login, password: a.password });
      assert.equal(hasher.stats().verifications - before, 1, `${a.what}: exactly one verification`);
      const body = res.json();
      answers.push({
        status: res.statusCode,
        code: body.error.code,
        message: body.error.message,
        keys: Object.keys(body.error).sort().join(","),
        headers: Object.keys(res.headers)
          .filter((h) => !["x-request-id", "date", "content-length", "ratelimit"].includes(h))
          .sort()
          .join(","),
      });
    }
    for (const answer of answers.slice(1)) assert.deepEqual(answer, answers[0]);
    assert.equal(answers[0]!.status, 401);
    assert.equal(answers[0]!.code, "invalid_credentials");
  } finally {
    await t.close();
  }
});
