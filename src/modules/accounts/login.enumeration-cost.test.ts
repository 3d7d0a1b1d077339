// Attack: account enumeration by timing — a login for an unknown user answered without the Argon2 work that a known user's login costs.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ARGON2ID_PARAMS,
  createPasswordHasher,
  type PasswordHasher,
  type PasswordHasherWork,
} from "../../core/crypto/index.js";
import { startApp } from "../../../test/harness.js";
import { login, register } from "../../../test/identity.js";

/** The Argon2 work one call did, measured by the hasher's own accounting (never by a clock). */
async function workOf(hasher: PasswordHasher, call: () => Promise<unknown>): Promise<PasswordHasherWork> {
  const before = hasher.work();
  await call();
  const after = hasher.work();
  return {
    argon2Verifications: after.argon2Verifications - before.argon2Verifications,
    memoryKiB: after.memoryKiB - before.memoryKiB,
    passes: after.passes - before.passes,
    lanes: after.lanes - before.lanes,
  };
}

/** One full Argon2id verification at the current parameters. */
const ONE_FULL_VERIFICATION: PasswordHasherWork = {
  argon2Verifications: 1,
  memoryKiB: ARGON2ID_PARAMS.memoryCost,
  passes: ARGON2ID_PARAMS.timeCost,
  lanes: ARGON2ID_PARAMS.parallelism,
};

test("the dummy verification is one full-cost Argon2id verification (19 MiB, 2 passes), like a real one", async () => {
  const hasher = createPasswordHasher();
  const real = await hasher.hash("correct horse battery staple");
  assert.deepEqual(await workOf(hasher, () => hasher.verify(real, "a wrong password")), ONE_FULL_VERIFICATION);
  assert.deepEqual(await workOf(hasher, () => hasher.verifyDummy("a wrong password")), ONE_FULL_VERIFICATION);
  // A stored value that is no hash at all (an account without a password) costs the same too.
  assert.deepEqual(
    await workOf(hasher, () => hasher.verify("!no-password", "a wrong password")),
    ONE_FULL_VERIFICATION,
  );
});

test("a login for an unknown user or email does the same Argon2 work as a wrong password for a known user", async () => {
  const hasher = createPasswordHasher();
  const t = await startApp({ hasher, env: { AUTH_LOGIN_PER_MINUTE: "100", RATE_LIMIT_PER_MINUTE: "1000" } });
  try {
    const known = await register(t.app);
    const disabled = await register(t.app);
    await t.app.bulwark.accounts.setDisabled(disabled.userId, true, { userId: null });
    const attempts = [
      { what: "wrong password, known user", login: known.username, password: `${known.password}x` },
      { what: "unknown user", login: "nobody_here", password: known.password },
      { what: "unknown email", login: "nobody@example.com", password: known.password },
      { what: "disabled account, right password", login: disabled.username, password: disabled.password },
    ];
    for (const a of attempts) {
      let status = 0;
      const work = await workOf(hasher, async () => {
        status = (await login(t.app, { username: a.login, password: a.password })).statusCode;
      });
      assert.equal(status, 401, a.what);
      assert.deepEqual(work, ONE_FULL_VERIFICATION, `${a.what}: one full Argon2id verification`);
    }
  } finally {
    await t.close();
  }
});
