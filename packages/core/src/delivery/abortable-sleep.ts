/**
 * A wait that ends early when `signal` aborts: the backoff between delivery attempts, cut short
 * when the sink closes. Unref'd, because a pending retry alone must not keep a finished script
 * alive.
 */
export function abortableSleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, milliseconds);
    timer.unref();
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
