// A Python service (PyJWT, Debian's python3-jwt, and a FastAPI dependency) against a live Bulwark:
// the JWKS fast path verifies tokens and refuses forged ones, and introspection refuses a token
// whose session ended — which the fast path alone cannot see — and answers for API keys.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { createFakeClock } from "../../core/clock.js";
import { startApp } from "../../../test/harness.js";
import { bearer, signedIn, stepUp } from "../../../test/identity.js";

const PYTHON = "/usr/bin/python3";
const EXAMPLE_DIR = fileURLToPath(new URL("../../../examples/python", import.meta.url));
const SCRIPT = fileURLToPath(new URL("../../../test/clients/introspect_check.py", import.meta.url));

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
      .listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      })
      .on("error", reject);
  });
}

test("the Python example verifies with the JWKS, and introspection sees a revoked session at once", async () => {
  // PyJWT checks `exp` against the real time: the app's clock starts now.
  // Tokens name PUBLIC_URL as their issuer: it must be the address Python calls.
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const t = await startApp({ clock: createFakeClock(Date.now()), env: { PORT: String(port), PUBLIC_URL: url } });
  try {
    await t.app.listen({ host: "127.0.0.1", port });
    const service = await signedIn(t.app);
    await stepUp(t.app, service);
    const key = (
      await t.app.inject({
        method: "POST",
        url: "/api/keys",
        headers: bearer(service.access),
        payload: { name: "py", scopes: ["introspect"] },
      })
    ).json().key as string;
    const live = await signedIn(t.app);
    const revoked = await signedIn(t.app);
    assert.equal(
      (await t.app.inject({ method: "POST", url: "/api/auth/logout", headers: bearer(revoked.access), payload: {} }))
        .statusCode,
      204,
    );

    // Asynchronously: the server answering Python runs in this process.
    const run = await promisify(execFile)(PYTHON, [SCRIPT, EXAMPLE_DIR, live.access, revoked.access, key], {
      env: { PATH: process.env.PATH ?? "", BULWARK_URL: url, BULWARK_INTROSPECT_KEY: key },
      encoding: "utf8",
    });
    const out = JSON.parse(run.stdout);
    assert.equal(out.verified_sub, live.userId);
    assert.equal(out.forged, "refused");
    assert.equal(
      out.revoked_still_verifies,
      revoked.userId,
      "the fast path cannot see the logout: why introspection exists",
    );
    assert.equal(out.live.active, true);
    assert.equal(out.live.sub, live.userId);
    assert.deepEqual(out.revoked, { active: false });
    assert.equal(out.key.active, true);
    assert.equal(out.key.token_type, "api_key");
    assert.equal(out.key.scope, "introspect");
    assert.equal(out.dependency_user, live.userId);
    assert.equal(out.dependency_revoked, 401);
  } finally {
    await t.close();
  }
});
