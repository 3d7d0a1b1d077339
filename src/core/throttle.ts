// Rate-limited reporting for failures that come in bursts (a restarted database drops every
// connection at once; a Redis client reports each reconnect attempt).

/** Wraps `report` so it runs at most once per `intervalMs`; calls in between are dropped. */
export function oncePer<T>(intervalMs: number, report: ((value: T) => void) | undefined): (value: T) => void {
  let last = 0;
  return (value) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    report?.(value);
  };
}
