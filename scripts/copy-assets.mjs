// Build step after tsc: copies the SQL migrations next to the compiled code, and dumps an initdb'd
// empty PGlite cluster to dist/pglite-template.tar.gz so the first `bulwark start` skips initdb.
import { chmodSync, cpSync, writeFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";

cpSync("src/store/migrations", "dist/store/migrations", { recursive: true });
cpSync("src/modules/pages/assets", "dist/modules/pages/assets", { recursive: true });
chmodSync("dist/main.js", 0o755);

const db = await PGlite.create();
const dump = await db.dumpDataDir("gzip");
writeFileSync("dist/pglite-template.tar.gz", Buffer.from(await dump.arrayBuffer()));
await db.close();
