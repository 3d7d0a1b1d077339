// When the topology tests run: with TEST_TOPOLOGY=1 (`.ci/run` sets it on its first pass only, so the
// Node 24 pass does not pay for them twice). Asked for and impossible here is a failure, not a skip.
import { topologyTools } from "./topology.js";

/** False when the topology tests should run; otherwise why they are skipped. */
export function topologySkip(): false | string {
  if (process.env.TEST_TOPOLOGY !== "1") {
    const reason =
      "topology tests need TEST_TOPOLOGY=1 (three `bulwark start` processes behind nginx, with their own PostgreSQL and Redis; .ci/run sets it)";
    return reason;
  }
  const tools = topologyTools();
  if ("skip" in tools) throw new Error(`TEST_TOPOLOGY=1 but ${tools.skip}`);
  return false;
}
