// Attack: random and adversarial requests (wrong types, unknown fields, huge and deep bodies, control characters, unicode tricks, bad content types, traversal in paths, oversized headers, forged, revoked and replayed credentials) to every route as every kind of caller — to get a 500, an answer without the security headers, or a change from a request that was refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fuzz } from "./fuzz/fuzz.js";

// The short, deterministic version of `npm run fuzz -- --requests 100000` (docs/reliability.md): small
// enough to stay inside the runner's 180 s per file on a loaded two-core machine.
test(
  "300 fuzzed requests: no 5xx, the security headers on every answer, nothing changed by a refusal",
  { timeout: 900_000 },
  async () => {
    const report = await fuzz({ requests: 300, seed: 424242 });
    assert.deepEqual(report.failures, [], JSON.stringify(report.failures, null, 2));
    assert.equal(report.requests, 300);
    assert.ok(report.byStatus["500"] === undefined, "no 500");
    // The run reached the app's behaviour, not only its validator: many refusals, and successes on many operations.
    assert.ok(report.refused > 150, `refused ${report.refused}`);
    assert.ok(report.succeeded > 50, `succeeded ${report.succeeded}`);
    assert.ok(
      report.operationsReached >= 15,
      `operations answered with a success: ${report.operationsReached} of ${report.operations}`,
    );
    assert.ok(report.socketRequests > 0, "raw socket requests were sent");
  },
);
