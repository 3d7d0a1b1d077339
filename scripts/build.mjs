// `npm run build`: dist/ from src/ in seconds. esbuild bundles the code in two builds whose chunks
// sit side by side: the library (index.js, client/index.js), with dependencies left in node_modules
// but for the few in BUNDLED, and the command line (main.js), which also bundles what every start
// loads (BUNDLED_FOR_START). tsc writes only the type declarations (`--noCheck`: `npm run
// typecheck` is the type check), and an initdb'd and migrated PGlite cluster is dumped to
// dist/pglite-template.tar.gz so the first `bulwark start` skips initdb and the migrations. The
// three run side by side.
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
/** Also bundled into the command line's start (main.js): the packages every start loads. */
const BUNDLED_FOR_START = [
  "fastify",
  "@fastify/fast-json-stringify-compiler",
  "@fastify/proxy-addr",
  "@fastify/type-provider-typebox",
  "@fastify/websocket",
  "@fastify/swagger",
  "@fastify/multipart",
  "@fastify/reply-from",
  "ajv",
  "ajv-formats",
  "pino",
  "prom-client",
  "drizzle-orm",
  "cookie",
  "otpauth",
  "yaml",
  "ws",
];
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

const external = (bundled) =>
  Object.keys(pkg.dependencies)
    .filter((name) => !bundled.includes(name))
    .flatMap((name) => [name, `${name}/*`]);
const common = {
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
  logLevel: "warning",
};
await Promise.all([
  // The library (`createApp`) and the typed client: dependencies stay in node_modules, but for a
  // few pure-JavaScript packages of hundreds of small ES modules each (Node resolves, reads and
  // links every file at start: typebox alone took 120 ms to import, 9 ms bundled). They remain
  // dependencies, for the declarations and for users.
  build({ ...common, entryPoints: ["src/index.ts", "src/client/index.ts"], external: external(BUNDLED) }),
  // The command line (`bulwark start`) also bundles what every start loads, so Node links one file
  // instead of resolving and loading hundreds (import: 411-438 ms -> 242-316 ms on a warm restart).
  // Bundled CommonJS calls require() for Node's built-ins: the banner gives the ES module one.
  build({
    ...common,
    entryPoints: ["src/main.ts"],
    external: external([...BUNDLED, ...BUNDLED_FOR_START]),
    banner: {
      js: 'import { createRequire as __bulwarkCreateRequire } from "node:module";\nconst require = __bulwarkCreateRequire(import.meta.url);',
    },
  }),
]);
// Beside the bundle, where `./migrations` and `./assets/` resolve from dist/*.js as they do from
// src/store/migrate.ts and src/modules/pages/index.ts.
cpSync("src/store/migrations", "dist/migrations", { recursive: true });
cpSync("src/modules/pages/assets", "dist/assets", { recursive: true });
chmodSync("dist/main.js", 0o755);

await Promise.all([declarations, template]);
