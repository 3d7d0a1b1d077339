// Part of `npm run build` (scripts/build.mjs): dumps a PGlite cluster, initdb'd and migrated to
// this build's schema, to dist/pglite-template.tar.gz, so the first `bulwark start` on a fresh
// DATA_DIR unpacks it instead of running initdb and every migration (about a second each on a small
// machine). The migrator is the one `bulwark start` runs (src/store/migrate.ts): at start it finds
// every migration recorded and has nothing to do, and a later build's new migrations still apply.
import { writeFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";

const db = await PGlite.create();
await migrate(drizzle({ client: db }), { migrationsFolder: "src/store/migrations" });
const dump = await db.dumpDataDir("gzip");
writeFileSync("dist/pglite-template.tar.gz", Buffer.from(await dump.arrayBuffer()));
await db.close();
