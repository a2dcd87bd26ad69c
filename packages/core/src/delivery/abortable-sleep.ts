/**
 * A wait that ends early when `signal` aborts: the backoff between delivery attempts, cut short
 * when the sink closes or the user presses Ctrl-C. Unref'd by default, because a pending retry
 * alone must not keep a finished script alive; a command whose work *is* the delivery (`livestep
 * sync`) passes `keepAlive` so the process waits for its own retry.
 */
export function abortableSleep(
  milliseconds: number,
  signal: AbortSignal,
  keepAlive = false,
): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, milliseconds);
    if (!keepAlive) timer.unref();
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
