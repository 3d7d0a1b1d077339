// Where a `bulwark start` spends its time until it listens: each phase's milliseconds, logged with
// "bulwark listening" (the `startup` field) and read by bench/startup.ts. Off unless the command
// line turns it on, so library use and tests record nothing.
import { performance } from "node:perf_hooks";

let marks: [phase: string, at: number][] | undefined;

/** Starts recording; the time before this call (Node's own start and loading the code) is `import`. */
export function recordStartup(): void {
  marks = [["import", performance.now()]];
}

/** Ends the phase named here (it began where the previous one ended). */
export function startupMark(phase: string): void {
  marks?.push([phase, performance.now()]);
}

/** Milliseconds per phase, in order, and `total` since the process started. */
export function startupPhases(): Record<string, number> | undefined {
  if (!marks) return undefined;
  const phases: Record<string, number> = {};
  let previous = 0;
  for (const [phase, at] of marks) {
    phases[phase] = Math.round(at - previous);
    previous = at;
  }
  phases.total = Math.round(previous);
  return phases;
}
