// Failure mode: a client whose access token expired fires several calls at once, each gets 401 and
// each refreshes with the same refresh token. The server lets exactly one rotation win and treats
// the others as reuse (token_reused), ending the session: a hand-written client logs its user out.
// The typed client refreshes once for all of them, and a 401 to a call sent before a refresh
// finished is retried with the new token instead of refreshing again.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startApp, type TestApp } from "../../test/harness.js";
import { register } from "../../test/identity.js";
import { createClient } from "./index.js";

let t: TestApp;
let baseUrl: string;
before(async () => {
  t = await startApp();
  await t.app.listen({ host: "127.0.0.1", port: 0 });
  baseUrl = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
});
after(() => t.close());

/** A fetch that counts refresh calls, for a client under test. */
function countingFetch() {
  const counts = { refresh: 0 };
  const fetcher = (request: Request) => {
    if (new URL(request.url).pathname === "/api/auth/refresh") counts.refresh += 1;
    return fetch(request);
  };
  return { counts, fetcher };
}

test("concurrent calls with an expired access token share one refresh and all succeed", async () => {
  const user = await register(t.app);
  const { counts, fetcher } = countingFetch();
  let ended = 0;
  const client = createClient({
    baseUrl,
    fetch: fetcher,
    onSessionEnded: () => {
      ended += 1;
    },
  });
  assert.equal((await client.signIn({ login: user.username, password: user.password })).status, "signed_in");
  const first = client.tokens.get()!;

  t.clock.advance((t.config.accessTokenTtl + 1) * 1000);
  const answers = await Promise.all(Array.from({ length: 6 }, () => client.GET("/api/users/me")));
  for (const answer of answers) assert.equal(answer.response.status, 200);
  assert.equal(counts.refresh, 1, "one refresh for six calls");
  assert.equal(ended, 0, "the user was not logged out");
  assert.notEqual(client.tokens.get()!.refresh_token, first.refresh_token, "rotated");

  // The session is still alive on the server: a later call works without another refresh.
  assert.equal((await client.GET("/api/sessions")).response.status, 200);
  assert.equal(counts.refresh, 1);
});

test("a 401 to a call sent before a refresh finished is retried, not refreshed again", async () => {
  const user = await register(t.app);
  const { counts, fetcher } = countingFetch();
  // Hold one call's answer until the refresh has happened, so its 401 arrives late.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held = false;
  const slow = async (request: Request) => {
    const response = await fetcher(request);
    if (!held && new URL(request.url).pathname === "/api/sessions" && response.status === 401) {
      held = true;
      await gate;
    }
    return response;
  };
  const client = createClient({ baseUrl, fetch: slow });
  await client.signIn({ login: user.username, password: user.password });
  t.clock.advance((t.config.accessTokenTtl + 1) * 1000);

  const late = client.GET("/api/sessions");
  // Wait until the late call has its 401 in hand, without a timer: poll the flag on the event loop.
  while (!held) await new Promise((resolve) => setImmediate(resolve));
  assert.equal((await client.GET("/api/users/me")).response.status, 200, "this call refreshes");
  release();
  assert.equal((await late).response.status, 200, "the late 401 is retried with the new token");
  assert.equal(counts.refresh, 1);
});

test("a session ended elsewhere ends the client's: one refresh attempt, then onSessionEnded", async () => {
  const user = await register(t.app);
  let ended = 0;
  const client = createClient({
    baseUrl,
    onSessionEnded: () => {
      ended += 1;
    },
  });
  await client.signIn({ login: user.username, password: user.password });
  // The same session signed out from another copy of its tokens (another tab, the user's other device).
  const other = createClient({ baseUrl });
  other.tokens.set(client.tokens.get());
  await other.signOut();
  const answer = await client.GET("/api/users/me");
  assert.equal(answer.response.status, 401);
  assert.equal(answer.error?.error.code, "unauthorized");
  assert.equal(client.tokens.get(), null, "the dead tokens are forgotten");
  assert.equal(ended, 1);
});
