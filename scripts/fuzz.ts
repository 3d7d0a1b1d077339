// npm run fuzz -- --requests 100000 [--seed N] [--batch 200]: the hostile-input fuzzer of
// docs/reliability.md against a real app on PGlite, or on PostgreSQL and Redis when
// TEST_DATABASE_URL and TEST_REDIS_URL are set. Exit 1 on any 5xx, missing security header, or
// change made by a refused request.
import { parseArgs } from "node:util";
import { fuzz } from "../test/fuzz/fuzz.js";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "100000" },
    seed: { type: "string", default: String(Date.now() % 1_000_000) },
    batch: { type: "string", default: "200" },
  },
});
const requests = Number(values.requests);
const seed = Number(values.seed);
console.log(`fuzz: ${requests} requests, seed ${seed}`);
let lastPrint = 0;
const report = await fuzz({
  requests,
  seed,
  batch: Number(values.batch),
  onFailure: (f) => console.log(`  FAILURE ${f.kind}: ${f.what}\n    ${f.request}`),
  progress: (done, r) => {
    if (Date.now() - lastPrint < 30_000 && done < requests) return;
    lastPrint = Date.now();
    console.log(
      `  ${done}/${requests} in ${r.seconds}s: ${r.refused} refused, ${r.succeeded} succeeded, ${r.failures.length} failures`,
    );
  },
});
console.log(JSON.stringify(report, null, 2));
process.exit(report.failures.length > 0 ? 1 : 0);
