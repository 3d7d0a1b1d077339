// The docs do not call built features "planned": every sentence that says something is planned or
// not built yet must name a feature on the NOT_BUILT list, and that list is checked against the
// running app (no route of it exists). Building one of them fails this test until the docs and the
// list are updated. The project's files also cite only the project's own docs, never the design
// notes the project was started from (they are not part of a clone).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startApp } from "./harness.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DOC_FILES = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** What is really not built, with the route prefix it would have. */
const NOT_BUILT = [
  { names: ["privacy export", "data export", "export"], route: "/api/users/me/export" },
  { names: ["erasure", "account deletion"], route: "/api/users/me/erase" },
];

/** Words that call something unbuilt; "a planned restart" is an operator's plan, not a feature. */
const UNBUILT =
  /\b(?:planned(?! (?:restart|maintenance|downtime))|not (?:built )?yet|not built|not read yet|coming soon|todo)\b/i;

test("every 'planned' or 'not yet' in the docs names a feature that is in fact not built", () => {
  const wrong: string[] = [];
  for (const file of DOC_FILES) {
    const paragraphs = readFileSync(join(ROOT, file), "utf8").split(/\n\s*\n/);
    for (const paragraph of paragraphs) {
      if (!UNBUILT.test(paragraph)) continue;
      const lower = paragraph.toLowerCase();
      if (!NOT_BUILT.some((f) => f.names.some((name) => lower.includes(name)))) {
        wrong.push(`${file}: ${paragraph.trim().slice(0, 160)}`);
      }
    }
  }
  assert.deepEqual(
    wrong,
    [],
    "these call something planned that is not on the NOT_BUILT list (is it built? then say so)",
  );
});

test("the NOT_BUILT list is true: none of its routes exists", async () => {
  const t = await startApp();
  try {
    const urls = t.app.bulwark.routes().map((r) => r.url);
    for (const feature of NOT_BUILT) {
      assert.ok(
        !urls.some((url) => url.startsWith(feature.route)),
        `${feature.names[0]} is built (${feature.route}): update the docs and NOT_BUILT`,
      );
    }
  } finally {
    await t.close();
  }
});

test("project files do not cite the design notes outside the project", () => {
  const cited: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (/\.(?:ts|mjs|md|json)$/.test(entry.name) && path !== "test/docs.truth.test.ts") {
        const text = readFileSync(join(ROOT, path), "utf8");
        if (/\bAPI\.md\b|shared\/(?:DESIGN|STYLE)\.md/.test(text)) cited.push(path);
      }
    }
  };
  for (const dir of ["src", "test", "docs", "scripts", "bench"]) walk(dir);
  if (/\bAPI\.md\b/.test(readFileSync(join(ROOT, "README.md"), "utf8"))) cited.push("README.md");
  assert.deepEqual(cited, []);
});
