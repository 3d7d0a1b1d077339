// Part of `npm run build` (scripts/build.mjs): dumps an initdb'd empty PGlite cluster to
// dist/pglite-template.tar.gz so the first `bulwark start` unpacks it instead of running initdb.
import { writeFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";

const db = await PGlite.create();
const dump = await db.dumpDataDir("gzip");
writeFileSync("dist/pglite-template.tar.gz", Buffer.from(await dump.arrayBuffer()));
await db.close();
