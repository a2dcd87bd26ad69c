/**
 * Timers: how long a block took, as a metric whose name carries its unit, as DVCLive's do.
 *
 *   const predictions = await time(run, 'timing/eval (ms)', () => evaluate(model));
 *   const stop = startTimer(loop, 'timing/epoch (s)');  ...  stop();
 *
 * The value is logged at the run's current step, once the block has finished; a block that
 * throws logs nothing (its duration would describe work that did not happen). Timing a
 * `track()` loop (`time(loop, ...)`) also shows the value in its progress.
 */
import { assertValidName } from '@livestep/core/protocol';

/** Each unit a timer's name may end with, and how many of it a millisecond is. */
const UNIT_PER_MILLISECOND: Record<string, number> = {
  us: 1000, // microseconds, the natural unit of a ~10 µs ONNX call
  µs: 1000,
  ms: 1,
  s: 1 / 1000,
};
const UNIT_SUFFIX = / \((us|µs|ms|s)\)$/;

/** Anything that records metrics: a run, or a loop from `track()`. */
export interface MetricTarget {
  logMetric(name: string, value: number): void;
}

/** The factor from milliseconds to the unit the name ends with; throws naming the fix when it has none. */
function unitFactor(name: string): number {
  assertValidName(name, 'metric');
  const unit = UNIT_SUFFIX.exec(name)?.[1];
  if (unit === undefined) {
    throw new TypeError(
      `livestep: timer ${JSON.stringify(name)} does not say its unit; end the name with " (us)", " (ms)" or " (s)", e.g. "${name} (ms)"`,
    );
  }
  return UNIT_PER_MILLISECOND[unit]!;
}

function checkTarget(target: unknown): asserts target is MetricTarget {
  if (typeof (target as MetricTarget | null)?.logMetric !== 'function') {
    throw new TypeError(
      'livestep: a timer needs somewhere to log; pass a run (startRun()) or a loop (track()) first',
    );
  }
}

/**
 * Starts a timer; the function it returns logs the time since, in the name's unit, and returns
 * it. Calling it again logs nothing more and returns the same value.
 */
export function startTimer(target: MetricTarget, name: string): () => number {
  checkTarget(target);
  const factor = unitFactor(name);
  const startedAt = performance.now();
  let measured: number | undefined;
  return () => {
    if (measured === undefined) {
      measured = (performance.now() - startedAt) * factor;
      target.logMetric(name, measured);
    }
    return measured;
  };
}

/**
 * Runs `block` and logs how long it took, in the name's unit (`(us)`, `(ms)` or `(s)`); returns what it
 * returns. An async block (one returning a promise) is timed until the promise settles.
 */
export function time<T>(target: MetricTarget, name: string, block: () => T): T {
  const stop = startTimer(target, name);
  const result = block();
  if (isPromiseLike(result)) {
    return Promise.resolve(result).then((value) => {
      stop();
      return value;
    }) as T;
  }
  stop();
  return result;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
