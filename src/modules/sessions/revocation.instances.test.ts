// Threat: a revoked session (logout, theft response, disabled account) still working on another instance behind the load balancer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createFakeClock } from "../../core/clock.js";
import { startDeployment, type TestApp, needs } from "../../../test/harness.js";
import { bearer, login, signedIn } from "../../../test/identity.js";

const skip = needs("postgres", "redis");

test(
  "logout, revocation and disabling on one instance take effect on the next request on another",
  { skip },
  async () => {
    const clock = createFakeClock(Date.UTC(2026, 0, 1, 12));
    // Real sockets, as behind a load balancer.
    const deployment = await startDeployment(2, {
      clock,
      env: { RATE_LIMIT_PER_MINUTE: "10000", AUTH_LOGIN_PER_MINUTE: "1000", AUTH_REGISTER_PER_MINUTE: "1000" },
    });
    const [a, b] = deployment.instances as [TestApp, TestApp];
    const url = deployment.url;
    try {
      const me = async (t: typeof a, token: string) =>
        (await fetch(url(t, "/api/users/me"), { headers: bearer(token) })).status;

      const user = await signedIn(a.app);
      assert.equal(await me(b, user.access), 200, "a token issued by A works on B");
      assert.equal(
        (await fetch(url(a, "/api/auth/logout"), { method: "POST", headers: bearer(user.access) })).status,
        204,
      );
      assert.equal(await me(b, user.access), 401, "logout on A: B refuses at once");

      const second = (await login(a.app, user)).json();
      const third = (await login(b.app, user)).json();
      assert.equal(await me(a, third.access_token), 200);
      assert.equal(
        (
          await fetch(url(a, `/api/sessions/${third.session_id}`), {
            method: "DELETE",
            headers: bearer(second.access_token),
          })
        ).status,
        204,
      );
      assert.equal(await me(b, third.access_token), 401, "a session ended on A is dead on B, which issued it");

      const admin = await signedIn(b.app);
      await b.app.bulwark.accounts.promote(admin.username, { userId: null });
      assert.equal(await me(a, second.access_token), 200);
      assert.equal(
        (
          await fetch(url(b, `/api/admin/users/${user.userId}/disable`), {
            method: "POST",
            headers: bearer(admin.access),
          })
        ).status,
        204,
      );
      assert.equal(await me(a, second.access_token), 401, "disabled on B: refused on A");
      assert.equal(
        (
          await a.app.inject({
            method: "POST",
            url: "/api/auth/refresh",
            payload: { refresh_token: second.refresh_token },
          })
        ).statusCode,
        401,
      );
    } finally {
      await deployment.close();
    }
  },
);
