// The published type declarations must compile for a consumer without `skipLibCheck`: every package
// they import is a dependency of Bulwark and brings its types (its own, or an `@types/` package that
// is itself a dependency), or the consumer gets TS7016 for a package it never chose.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
const installed = { ...pkg.dependencies, ...pkg.peerDependencies };

/** The package a bare specifier names (`drizzle-orm/pg-core` → `drizzle-orm`, `@a/b/c` → `@a/b`). */
const packageOf = (specifier: string): string =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/");

/** Whether a package ships its own declarations. */
function shipsTypes(name: string): boolean {
  const dir = join(ROOT, "node_modules", name);
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
  if (
    manifest.types ||
    manifest.typings ||
    JSON.stringify(manifest.exports ?? {}).includes('"types"') ||
    existsSync(join(dir, "index.d.ts"))
  )
    return true;
  // TypeScript also finds a declaration file beside an export's target (`index.mjs` → `index.d.mts`).
  const targets = JSON.stringify(manifest.exports ?? {}).match(/"\.\/[^"*]+\.[cm]?js"/g) ?? [];
  return targets.some((t) => existsSync(join(dir, t.slice(1, -1).replace(/\.(c|m)?js$/, ".d.$1ts"))));
}

test("every package the published declarations import is a dependency with types", () => {
  const out = mkdtempSync(join(tmpdir(), "bulwark-dts-"));
  try {
    const tsc = spawnSync(
      process.execPath,
      [
        join(ROOT, "node_modules/typescript/bin/tsc"),
        "-p",
        join(ROOT, "tsconfig.build.json"),
        "--emitDeclarationOnly",
        "--outDir",
        out,
      ],
      { encoding: "utf8" },
    );
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    const specifiers = new Set<string>();
    for (const file of readdirSync(out, { recursive: true, withFileTypes: true })) {
      if (!file.isFile() || !file.name.endsWith(".d.ts")) continue;
      const text = readFileSync(join(file.parentPath, file.name), "utf8");
      for (const match of text.matchAll(/(?:from |import\()"([^"]+)"/g)) {
        const specifier = match[1]!;
        // Relative imports are the package's own; node: built-ins come with @types/node, which a Node consumer has.
        if (!specifier.startsWith(".") && !specifier.startsWith("node:")) specifiers.add(packageOf(specifier));
      }
    }
    assert.ok(specifiers.has("fastify"), "the scan sees the declarations' imports");
    const missing = [...specifiers].filter(
      (name) => !(name in installed) || !(shipsTypes(name) || `@types/${name}` in installed),
    );
    assert.deepEqual(missing, [], "packages the declarations import without the consumer getting their types");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
