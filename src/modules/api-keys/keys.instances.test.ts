// Threat: a revoked, expired or disowned API key still working on another instance behind the load balancer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createFakeClock } from "../../core/clock.js";
import { startDeployment, type TestApp, needs } from "../../../test/harness.js";
import { bearer, signedIn, stepUp, type SignedIn } from "../../../test/identity.js";

const skip = needs("postgres", "redis");

test(
  "revocation, rotation, expiry and a disabled owner on one instance stop the key on the next request on another",
  { skip },
  async () => {
    const clock = createFakeClock(Date.UTC(2026, 0, 1, 12));
    const deployment = await startDeployment(2, {
      clock,
      env: {
        RATE_LIMIT_PER_MINUTE: "10000",
        SENSITIVE_PER_MINUTE: "1000",
        AUTH_LOGIN_PER_MINUTE: "1000",
        AUTH_REGISTER_PER_MINUTE: "1000",
      },
    });
    const [a, b] = deployment.instances as [TestApp, TestApp];
    const url = deployment.url;
    try {
      const who = async (t: typeof a, key: string) =>
        (await fetch(url(t, "/api/whoami"), { headers: { "x-api-key": key } })).status;
      const create = async (user: SignedIn, body: Record<string, unknown> = {}) => {
        await stepUp(a.app, user);
        const res = await fetch(url(a, "/api/keys"), {
          method: "POST",
          headers: { ...bearer(user.access), "content-type": "application/json" },
          body: JSON.stringify({ name: "k", scopes: [], ...body }),
        });
        assert.equal(res.status, 201);
        return (await res.json()) as { id: string; key: string };
      };

      const user = await signedIn(a.app);
      const key = await create(user);
      assert.equal(await who(b, key.key), 200, "a key made on A works on B (and is now cached there)");
      assert.equal(
        (await fetch(url(a, `/api/keys/${key.id}`), { method: "DELETE", headers: bearer(user.access) })).status,
        204,
      );
      assert.equal(await who(b, key.key), 401, "revoked on A: B refuses at once");

      const rotating = await create(user);
      assert.equal(await who(b, rotating.key), 200);
      const rotated = await fetch(url(a, `/api/keys/${rotating.id}/rotate`), {
        method: "POST",
        headers: { ...bearer(user.access), "content-type": "application/json" },
        body: JSON.stringify({ grace_seconds: 0 }),
      });
      assert.equal(rotated.status, 201);
      assert.equal(await who(b, rotating.key), 401, "rotated with no grace on A: B refuses at once");
      assert.equal(await who(b, ((await rotated.json()) as { key: string }).key), 200);

      const expiring = await create(user, { expires_at: new Date(clock.now() + 60_000).toISOString() });
      assert.equal(await who(b, expiring.key), 200);
      clock.advance(60_001);
      assert.equal(await who(b, expiring.key), 401, "expired: refused from the cache without waiting for a reload");

      const owner = await signedIn(b.app);
      const owned = await create(owner);
      assert.equal(await who(a, owned.key), 200);
      const admin = await signedIn(b.app);
      await b.app.bulwark.accounts.promote(admin.username, { userId: null });
      assert.equal(
        (
          await fetch(url(b, `/api/admin/users/${owner.userId}/disable`), {
            method: "POST",
            headers: bearer(admin.access),
          })
        ).status,
        204,
      );
      assert.equal(await who(a, owned.key), 401, "owner disabled on B: A refuses at once");
    } finally {
      await deployment.close();
    }
  },
);
