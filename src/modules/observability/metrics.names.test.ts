// Attack: unbounded label values (a series per requested path, per key, per user) growing the
// metrics until the process or Prometheus falls over. And the conventions: every metric of
// Bulwark's own is `bulwark_`-prefixed, and the docs name exactly the metrics /metrics serves.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { randomToken } from "../../core/crypto/index.js";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn, stepUp } from "../../../test/identity.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** prom-client's process and Node.js metrics keep their standard names (dashboards expect them). */
const STANDARD = /^(process|nodejs)_/;

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

const scrape = async () =>
  (await t.app.inject({ method: "GET", url: "/metrics", headers: bearer(t.config.metricsToken) })).body;
/** The metric names in an exposition, from their `# TYPE` lines. */
const namesOf = (body: string) => new Set([...body.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!));

test("every metric of Bulwark's own starts with bulwark_", async () => {
  const names = [...namesOf(await scrape())];
  assert.ok(names.length > 5);
  for (const name of names)
    assert.ok(name.startsWith("bulwark_") || STANDARD.test(name), `${name} lacks the bulwark_ prefix`);
});

test("no label takes its values from the request: distinct paths, ids and keys add no series", async () => {
  const user = await signedIn(t.app);
  await stepUp(t.app, user);
  const key = (
    await t.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: bearer(user.access),
      payload: { name: "m", scopes: ["files:read"] },
    })
  ).json();
  const probes: string[] = [];
  for (let i = 0; i < 20; i++) {
    const junk = randomToken(12).replace(/[^A-Za-z0-9]/g, "x");
    probes.push(junk);
    await t.app.inject({ method: "GET", url: `/nowhere/${junk}` });
    await t.app.inject({ method: "GET", url: `/api/files/${junk}`, headers: { "x-api-key": key.key } });
    await t.app.inject({ method: "GET", url: `/api/users/me?${junk}=1`, headers: bearer(`${junk}.${junk}.${junk}`) });
  }
  const body = await scrape();
  for (const junk of probes) assert.ok(!body.includes(junk), `a requested value became a label: ${junk}`);
  assert.ok(!body.includes(key.id), "no series names a key id");
  assert.ok(!body.includes(user.userId), "no series names a user id");
  const templates = new Set([...t.app.bulwark.routes().map((r) => r.url), "unmatched"]);
  for (const m of body.matchAll(/route="([^"]*)"/g))
    assert.ok(templates.has(m[1]!), `route label ${m[1]} is not a route template`);
});

test("docs/operations.md lists exactly the bulwark_ metrics /metrics serves, and nothing in docs or deploy/ names another", async () => {
  const served = namesOf(await scrape());
  const ops = readFileSync(`${ROOT}docs/operations.md`, "utf8");
  const table = new Set([...ops.matchAll(/^\| `(bulwark_[a-z_]+)` \|/gm)].map((m) => m[1]!));
  assert.deepEqual([...table].sort(), [...served].filter((n) => n.startsWith("bulwark_")).sort());
  // A histogram's series carry suffixes; everything else must be a served name.
  const known = (name: string) => served.has(name) || served.has(name.replace(/_(bucket|sum|count)$/, ""));
  const files = [
    "README.md",
    ...readdirSync(`${ROOT}docs`)
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
    ...(existsSync(`${ROOT}deploy`)
      ? readdirSync(`${ROOT}deploy`, { recursive: true, encoding: "utf8" })
          .filter((f) => /\.(ya?ml|json)$/.test(f))
          .map((f) => `deploy/${f}`)
      : []),
  ];
  for (const file of files) {
    const text = readFileSync(`${ROOT}${file}`, "utf8");
    // Prometheus names only: not `bulwark_access` and other cookie names, which are not metrics.
    for (const m of text.matchAll(/\bbulwark_[a-z_]+_(?:total|seconds|bucket|sum|count|pending)\b/g))
      assert.ok(known(m[0]), `${file} names ${m[0]}, which /metrics does not serve`);
  }
});
