/**
 * One call that keeps the event loop turning inside a training loop:
 *
 *   for (let step = 0; step < steps; step++) {
 *     run.logMetric('train/loss', await trainStep());
 *     await yieldToEventLoop();
 *   }
 *
 * A loop whose only awaits are on promises that are already settled (tfjs on the cpu backend,
 * `await tensor.data()`, most pure-JS math) runs on microtasks alone: timers, I/O callbacks and
 * signal handlers wait until it ends. Network sinks then send nothing, Ctrl-C does nothing, and
 * a progress timer never fires. This call gives the loop one full turn (timers, I/O, signals)
 * when the last one it gave is older than `YIELD_INTERVAL_MS`, and otherwise returns a settled
 * promise: one clock read, no allocation. The adapters call it for you (the tfjs callback at
 * every batch and epoch end, `for await` over `track()`).
 */

/**
 * A turn at most this often: Ctrl-C, timers and network sinks are served within about 50 ms,
 * while a turn costs microseconds, so the loop loses well under 0.1% of its time.
 */
export const YIELD_INTERVAL_MS = 50;

const NO_WAIT: Promise<void> = Promise.resolve();
let lastTurnAt = Number.NEGATIVE_INFINITY;

function takeTurn(resolve: () => void): void {
  // setImmediate runs after the poll phase (I/O callbacks, signals); a turn started from a check
  // callback also passes through the timers phase first, so due timers fire too.
  setImmediate(resolve);
}

/**
 * Resolves after one turn of the event loop if none was given in the last `YIELD_INTERVAL_MS`;
 * otherwise returns an already settled promise. Safe to call on every step, however fast.
 */
export function yieldToEventLoop(): Promise<void> {
  const now = performance.now();
  if (now - lastTurnAt < YIELD_INTERVAL_MS) return NO_WAIT;
  lastTurnAt = now;
  return new Promise(takeTurn);
}
