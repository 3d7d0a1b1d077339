// Whether a process id names a running process. `kill(pid, 0)` alone answers yes for a zombie: a
// process that has exited but that no one has reaped yet. An orphan's zombie lives on where the
// init process does not reap (a container without an init, some sandboxes), so a server that died
// there would be taken for alive: its data directory "in use" for ever, commands sent to a dead
// socket. On Linux the process state in /proc tells a zombie apart.
import { readFileSync } from "node:fs";

/** The one-letter state of a Linux process (R, S, D, Z, …), or undefined where /proc does not say. */
function linuxState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (command) S …": the command may hold spaces and parentheses, so read after the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) || undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is a running process (another user's counts; a zombie does not). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const state = linuxState(pid);
  return state !== "Z" && state !== "X";
}
