// `node --import tsx bench/log-line.ts`: what one request log line costs the process, with the logger
// `bulwark start` builds (redaction, secret scrubbing) and its destination (`logDestination`),
// against the same logger on destinations with other batch sizes. Lines go to /dev/null; the loop
// yields to the event loop every 200 lines, so the destination's asynchronous writes complete as
// they do in a busy server. Pin it to one core (`taskset -c 1`) so those writes share it.
// Options: --lines 200000 --rounds 4 (the first round is a warm-up and is not counted).
import { parseArgs } from "node:util";
import { pino } from "pino";
import { randomToken } from "../src/core/crypto/index.js";
import { createLogger, logDestination } from "../src/core/logger.js";
import { textTable } from "./lib.js";

const { values } = parseArgs({
  options: { lines: { type: "string", default: "200000" }, rounds: { type: "string", default: "4" } },
});
const lines = Number(values.lines);
const rounds = Number(values.rounds);
const YIELD_EVERY = 200;

type Destination = ReturnType<typeof logDestination>;
const destinations: [name: string, make: () => Destination][] = [
  ["logDestination() (what Bulwark uses)", () => logDestination("/dev/null")],
  ...[16384, 8192, 4096, 2048, 1024].map((maxWrite): [string, () => Destination] => [
    `batches of ${maxWrite / 2}-${maxWrite} bytes`,
    () => pino.destination({ dest: "/dev/null", sync: false, minLength: maxWrite / 2, maxWrite, periodicFlush: 250 }),
  ]),
];

/** µs per line, the median of the counted rounds. */
async function perLine(destination: Destination): Promise<number> {
  const logger = createLogger({ level: "info", secrets: [randomToken(32), randomToken(32)], destination });
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    for (let i = 1; i <= lines; i++) {
      // The per-request line as observeHook writes it, through a child logger carrying the request id.
      logger
        .child({ reqId: "LubqNkWG-00000e8m" })
        .info({ method: "GET", route: "/api/users/me", status: 200, ms: 0.12 }, "request");
      if (i % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    if (round > 0) times.push(Number(process.hrtime.bigint() - started) / lines / 1000);
  }
  destination.flushSync();
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

const results: [string, number][] = [];
for (const [name, make] of destinations) {
  const destination = make();
  await new Promise((resolve) => destination.once("ready", resolve));
  results.push([name, await perLine(destination)]);
}
const reference = results[0]![1];
console.log(
  textTable([
    ["destination", "µs per line", "ratio to logDestination()"],
    ...results.map(([name, us]) => [name, us.toFixed(2), (us / reference).toFixed(2)]),
  ]),
);
