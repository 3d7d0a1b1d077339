// Started through npm (`npx bulwark start`, `npm start`), the server runs under `sh -c`, under npm.
// A SIGTERM or SIGINT sent to npm alone reaches the shell, which dies without passing it on, and the
// server lived on, orphaned, holding the port. Such a server follows the process that started it:
// once that one is gone (the server is re-parented), it stops as on SIGTERM. A server started
// directly (systemd, a container, `node dist/main.js start &`) is left alone.

/** How often the parent is checked; the check is one property read. */
const CHECK_MS = 500;

/** Whether npm started this process (`npm exec`, `npx`, `npm run`): npm sets these for its children. */
export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.npm_command || env.npm_lifecycle_event);
}

/**
 * Calls `stop` once when `parent` (the process's parent when it started: read it before any await,
 * since npm may be gone by the time the server listens) is no longer its parent; returns the
 * function that stops watching.
 */
export function onParentExit(stop: () => void, parent: number, checkMs = CHECK_MS): () => void {
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, checkMs);
  timer.unref();
  return () => clearInterval(timer);
}
