// Threat: a socket outlives the credentials that opened it — after logout, session revocation, a password change or disabling, the thief's socket keeps receiving.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createFakeClock } from "../../core/clock.js";
import { needs, startApp, startDeployment, type TestApp } from "../../../test/harness.js";
import { bearer, goodPassword, login, signedIn } from "../../../test/identity.js";
import { conversation, MESSAGE_LIMITS, send } from "../../../test/messages.js";
import { connect, listening, ticket } from "../../../test/realtime.js";

let t: TestApp;
let base: string;
before(async () => {
  t = await startApp({ env: MESSAGE_LIMITS });
  base = await listening(t.app);
});
after(() => t.close());

test("logout and session revocation close that session's sockets with 1008, and only those", async () => {
  const ada = await signedIn(t.app);
  const other = (await login(t.app, ada)).json();
  const mine = await connect(base, await ticket(t.app, ada));
  const theirs = await connect(base, await ticket(t.app, { ...ada, access: other.access_token }));
  assert.equal(
    (await t.app.inject({ method: "DELETE", url: `/api/sessions/${other.session_id}`, headers: bearer(ada.access) }))
      .statusCode,
    204,
  );
  assert.equal((await theirs.closed).code, 1008);
  mine.send({ type: "ping", ref: "still" });
  assert.equal((await mine.next((f) => f.type === "pong")).ref, "still", "the other session's socket stays");
  assert.equal(
    (await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: bearer(ada.access) })).statusCode,
    204,
  );
  assert.equal((await mine.closed).code, 1008);
});

test("a password change closes the sockets of every other session; disabling the user closes all", async () => {
  const ada = await signedIn(t.app);
  const stolen = (await login(t.app, ada)).json();
  const mine = await connect(base, await ticket(t.app, ada));
  const thief = await connect(base, await ticket(t.app, { ...ada, access: stolen.access_token }));
  const res = await t.app.inject({
    method: "POST",
    url: "/api/users/me/password",
    headers: bearer(ada.access),
    payload: { current_password: ada.password, new_password: goodPassword() },
  });
  assert.equal(res.statusCode, 204, res.body);
  assert.equal((await thief.closed).code, 1008);
  mine.send({ type: "ping" });
  await mine.next((f) => f.type === "pong");

  const admin = await signedIn(t.app);
  await t.app.bulwark.accounts.promote(admin.username, { userId: null });
  assert.equal(
    (
      await t.app.inject({
        method: "POST",
        url: `/api/admin/users/${ada.userId}/disable`,
        headers: bearer(admin.access),
      })
    ).statusCode,
    204,
  );
  assert.equal((await mine.closed).code, 1008);
});

test(
  "two instances on PostgreSQL and Redis: fan-out reaches a member on the other instance, tickets are single use across them, and revocation on one closes sockets on the other",
  { skip: needs("postgres", "redis") },
  async () => {
    const clock = createFakeClock(Date.UTC(2026, 0, 1, 12));
    const deployment = await startDeployment(2, { clock, env: MESSAGE_LIMITS });
    const [a, b] = deployment.instances as [TestApp, TestApp];
    const baseOf = (i: TestApp) => deployment.url(i, "");
    try {
      const [ada, bob] = [await signedIn(a.app), await signedIn(a.app)];
      const id = await conversation(a.app, ada, [bob]);

      // A ticket bought on A opens a socket on B, once: A refuses it afterwards.
      const value = await ticket(a.app, bob);
      const bobOnB = await connect(baseOf(b), value);
      await assert.rejects(connect(baseOf(a), value), (e: { status?: number }) => e.status === 401);

      const m = await send(a.app, ada, id, "sent through A");
      assert.deepEqual((await bobOnB.next((f) => f.type === "message.created")).message, m);

      const adaOnA = await connect(baseOf(a), await ticket(a.app, ada));
      bobOnB.send({ type: "message.send", conversation_id: id, body: "sent on B's socket" });
      assert.equal(
        (
          (
            await adaOnA.next(
              (f) => f.type === "message.created" && (f.message as { author_id: string }).author_id === bob.userId,
            )
          ).message as { body: string }
        ).body,
        "sent on B's socket",
      );

      // Bob signs out through A: his socket on B closes with 1008.
      assert.equal(
        (await a.app.inject({ method: "POST", url: "/api/auth/logout", headers: bearer(bob.access) })).statusCode,
        204,
      );
      assert.equal((await bobOnB.closed).code, 1008);

      // Ada is disabled through B: her socket on A closes.
      const admin = await signedIn(b.app);
      await b.app.bulwark.accounts.promote(admin.username, { userId: null });
      assert.equal(
        (
          await b.app.inject({
            method: "POST",
            url: `/api/admin/users/${ada.userId}/disable`,
            headers: bearer(admin.access),
          })
        ).statusCode,
        204,
      );
      assert.equal((await adaOnA.closed).code, 1008);
    } finally {
      await deployment.close();
    }
  },
);
