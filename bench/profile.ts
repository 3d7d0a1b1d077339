// Summarises a V8 CPU profile (from BENCH_CPU_PROF) over the measured window: self time by
// function and by owner (our src/, each package, node internals, GC), in µs per request.
// `node --import tsx bench/profile.ts <file.cpuprofile> [--from µs --to µs] [--requests N] [--top 30]`;
// run.ts prints the --from/--to/--requests of the run it profiled.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, textTable } from "./lib.js";

type Node = { id: number; callFrame: { functionName: string; url: string }; children?: number[] };
type Profile = { nodes: Node[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    from: { type: "string" },
    to: { type: "string" },
    requests: { type: "string" },
    top: { type: "string", default: "30" },
  },
});
if (positionals.length !== 1)
  throw new Error("usage: bench/profile.ts <file.cpuprofile> [--from µs --to µs] [--requests N] [--top 30]");
const profile = JSON.parse(readFileSync(positionals[0]!, "utf8")) as Profile;
const from = values.from ? Number(values.from) : profile.startTime;
const to = values.to ? Number(values.to) : profile.endTime;
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));

/** Who owns a frame: our code (src/…), a package, node itself, or V8's pseudo-frames. */
function owner(url: string, name: string): string {
  if (!url) return `(${name || "anonymous"})`;
  if (url.startsWith("node:")) return "node internals";
  const path = url.replace(/^file:\/\//, "");
  const nm = path.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = path.slice(nm + "/node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  return relative(ROOT, path);
}

const selfByFrame = new Map<string, number>();
const selfByOwner = new Map<string, number>();
let t = profile.startTime;
let windowUs = 0;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i] ?? 0;
  if (t < from || t > to) continue;
  // The sample's weight is the time to the next sample.
  const weight = profile.timeDeltas[i + 1] ?? 0;
  windowUs += weight;
  const node = nodes.get(profile.samples[i]!)!;
  const { functionName, url } = node.callFrame;
  const who = owner(url, functionName).slice(0, 90);
  // Line numbers are omitted: under tsx they are the transpiled file's, not the source's.
  const frame = (url ? `${functionName || "(anonymous)"} ${who}` : who).slice(0, 90);
  selfByFrame.set(frame, (selfByFrame.get(frame) ?? 0) + weight);
  selfByOwner.set(who, (selfByOwner.get(who) ?? 0) + weight);
}

const requests = values.requests ? Number(values.requests) : undefined;
const top = Number(values.top);
const rows = (map: Map<string, number>, label: string) => {
  const sorted = [...map].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    [label, "ms", "share", ...(requests ? ["µs/request"] : [])],
    ...sorted.map(([k, us]) => [
      k,
      (us / 1000).toFixed(0),
      `${((us / windowUs) * 100).toFixed(1)}%`,
      ...(requests ? [(us / requests).toFixed(2)] : []),
    ]),
  ];
};
console.log(
  `window ${(windowUs / 1e6).toFixed(2)} s of main-thread samples${requests ? `, ${requests} requests: ${(windowUs / requests).toFixed(1)} µs each` : ""}\n`,
);
console.log(textTable(rows(selfByOwner, "self time by owner")));
console.log("");
console.log(textTable(rows(selfByFrame, "self time by function")));
