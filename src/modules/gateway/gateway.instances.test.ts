// Threat: a session revoked on one instance still opens the backend through the gateway on another.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createFakeClock } from "../../core/clock.js";
import { randomToken } from "../../core/crypto/index.js";
import { needs, startDeployment, type TestApp } from "../../../test/harness.js";
import { rulesFile, startUpstream, STANDARD_RULES } from "../../../test/gateway.js";
import { bearer, signedIn } from "../../../test/identity.js";

const skip = needs("postgres", "redis");

test("a session revoked on one instance is refused at the next proxied request on another", { skip }, async () => {
  const upstream = await startUpstream();
  const clock = createFakeClock(Date.UTC(2026, 0, 1, 12));
  const deployment = await startDeployment(2, {
    clock,
    env: {
      UPSTREAM_URL: upstream.url,
      GATEWAY_RULES: rulesFile(STANDARD_RULES),
      GATEWAY_SECRET: randomToken(32),
      RATE_LIMIT_PER_MINUTE: "10000",
    },
  });
  const [a, b] = deployment.instances as [TestApp, TestApp];
  try {
    const user = await signedIn(a.app);
    const through = () => fetch(deployment.url(b, "/app/orders"), { headers: bearer(user.access) });
    assert.equal((await through()).status, 200, "a token issued by A opens the backend through B");
    const before = upstream.seen.length;
    assert.equal(
      (await fetch(deployment.url(a, "/api/auth/logout"), { method: "POST", headers: bearer(user.access) })).status,
      204,
    );
    const refused = await through();
    assert.equal(refused.status, 401, "logout on A: B refuses at once");
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "unauthorized");
    assert.equal(upstream.seen.length, before, "the refused request never reached the backend");
  } finally {
    await deployment.close();
    await upstream.close();
  }
});
