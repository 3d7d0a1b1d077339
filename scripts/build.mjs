// `npm run build`: dist/ from src/ in seconds. esbuild bundles the code (the entry points main.js,
// index.js and client/index.js share chunks beside them; dependencies stay in node_modules but for
// the few in BUNDLED), tsc
// writes only the type declarations (`--noCheck`: `npm run typecheck` is the type check), and an
// initdb'd and migrated PGlite cluster is dumped to dist/pglite-template.tar.gz so the first
// `bulwark start` skips initdb and the migrations. The three run side by side.
//
// `--if-stale` (the `prepare` script) does nothing when dist/ is newer than every input: `npx
// bulwark start` links this folder into npm's cache and runs `prepare` again, right after the
// `npm install` that built it.
import { spawn } from "node:child_process";
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

/** Dependencies bundled into dist/ (see `external` below). */
const BUNDLED = ["typebox", "jose"];
const pkg = JSON.parse(readFileSync("package.json", "utf8"));

const OUTPUTS = [
  "dist/main.js",
  "dist/index.js",
  "dist/index.d.ts",
  "dist/client/index.d.ts",
  "dist/pglite-template.tar.gz",
];
const INPUTS = [
  "src",
  "scripts/build.mjs",
  "scripts/pglite-template.mjs",
  "package.json",
  "tsconfig.json",
  "tsconfig.build.json",
];

/** The newest modification time under `path` (a file or a folder). */
function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

if (process.argv.includes("--if-stale") && OUTPUTS.every((file) => existsSync(file))) {
  const built = Math.min(...OUTPUTS.map((file) => statSync(file).mtimeMs));
  if (built > Math.max(...INPUTS.map(newest))) {
    console.log("dist/ is up to date");
    process.exit(0);
  }
}

/** Runs a node script to completion; rejects with its output on failure. */
function node(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`node ${args[0]} failed:\n${output}`))));
  });
}

rmSync("dist", { recursive: true, force: true });

const declarations = node([
  "node_modules/typescript/bin/tsc",
  "-p",
  "tsconfig.build.json",
  "--emitDeclarationOnly",
  "--noCheck",
]);
const template = node(["scripts/pglite-template.mjs"]);

await build({
  entryPoints: ["src/main.ts", "src/index.ts", "src/client/index.ts"],
  outdir: "dist",
  outbase: "src",
  // Chunks sit beside main.js and index.js: code that finds its files through import.meta.url
  // (migrations, page assets, the template, package.json) sees the same folder from every chunk.
  chunkNames: "[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  // Dependencies stay in node_modules, but for a few pure-JavaScript packages of hundreds of small
  // ES modules each: Node resolves, reads and links every file at start (typebox alone took 120 ms
  // to import, 9 ms bundled). They remain dependencies, for the declarations and for users.
  external: Object.keys(pkg.dependencies)
    .filter((name) => !BUNDLED.includes(name))
    .flatMap((name) => [name, `${name}/*`]),
  logLevel: "warning",
});
// Beside the bundle, where `./migrations` and `./assets/` resolve from dist/*.js as they do from
// src/store/migrate.ts and src/modules/pages/index.ts.
cpSync("src/store/migrations", "dist/migrations", { recursive: true });
cpSync("src/modules/pages/assets", "dist/assets", { recursive: true });
chmodSync("dist/main.js", 0o755);

await Promise.all([declarations, template]);
