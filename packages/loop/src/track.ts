/**
 * `track()`: wrap a loop, and each iteration becomes a step of a run, with progress on the
 * terminal and, if asked, system metrics in the background.
 *
 *   const loop = track(batches, { description: 'train', runOptions: { experiment: 'mnist' } });
 *   for await (const batch of loop) {      // `for await` gives the event loop its turns
 *     const loss = await trainOn(batch);
 *     loop.logMetric('train/loss', loss);   // recorded at this iteration's step, shown in the bar
 *   }
 */
import type { Run, StartRunOptions, SystemMonitorOptions } from '@livestep/core';
import { DEFAULT_LINE_INTERVAL_MS } from './progress-lines.js';
import { checkProgressMode, type ProgressMode, type ProgressStream } from './progress-reporter.js';
import { AsyncTrackedLoop, type LoopSettings, TrackedLoop } from './tracked-loop.js';

export interface TrackOptions {
  /**
   * The run to record into; the loop continues at its current step and never ends it. Without
   * one, the loop starts its own run (with `runOptions`) when iteration begins and ends it.
   */
  run?: Run;
  /** Options of the run the loop starts itself (experiment, name, params, sinks, ...). */
  runOptions?: StartRunOptions;
  /** Iterations expected, for the percentage and the time left (default: the count, or the length or size of the data). */
  total?: number;
  /** Shown before the progress, e.g. `train` or `epoch`. */
  description?: string;
  /**
   * `'auto'` (default): a bar on a terminal, plain lines when not (CI logs, files); `'bar'`: a bar
   * even when the stream is not a TTY; `'lines'`: plain lines; `false`: nothing.
   */
  progress?: ProgressMode;
  /** Where progress is written (default process.stderr). */
  stream?: ProgressStream;
  /** Least time between two plain progress lines, in ms (default 5000). */
  lineIntervalMs?: number;
  /**
   * Record CPU, memory, event-loop delay and GPU (`system/...`) in the background while the loop
   * runs: `true` for the defaults (every 5 s, GPU when nvidia-smi answers), or the monitor's
   * options. Default false.
   */
  systemMetrics?: boolean | SystemMonitorOptions;
  /**
   * How long the end of the loop's own run waits for delivery, in ms (passed to its `end()`;
   * default: the run's, 5 s). Without `run` only: a run passed in is ended by its owner.
   */
  endTimeoutMs?: number;
  /**
   * Whether each iteration is a step of the run (iteration i at step first + i). Default: true,
   * except for a loop started inside another loop over the same run (`track(batches, { run:
   * loop.run })` in an epoch loop): there the outer loop's iterations are the steps, and the
   * inner loop's iterations all log at the outer iteration's step. Pass true or false to decide.
   */
  advanceStep?: boolean;
}

/** `track(100)` iterates 0..99. */
export function track(count: number, options?: TrackOptions): TrackedLoop<number>;
/** Wraps an array or any iterable; `for` or `for await`. */
export function track<T>(source: Iterable<T>, options?: TrackOptions): TrackedLoop<T>;
/** Wraps an async iterable (a stream, an async generator); `for await`. */
export function track<T>(source: AsyncIterable<T>, options?: TrackOptions): AsyncTrackedLoop<T>;
export function track<T>(
  source: number | Iterable<T> | AsyncIterable<T>,
  options: TrackOptions = {},
): TrackedLoop<T> | TrackedLoop<number> | AsyncTrackedLoop<T> {
  if (typeof source === 'number') {
    if (!Number.isSafeInteger(source) || source < 0) {
      throw new TypeError(
        `livestep: track() got the count ${source}; pass a whole number >= 0 (track(100) iterates 0..99), or an iterable`,
      );
    }
    return new TrackedLoop(countUpTo(source), settingsFrom(options, source));
  }
  if (isIterable<T>(source)) {
    return new TrackedLoop(source[Symbol.iterator](), settingsFrom(options, sizeOf(source)));
  }
  if (isAsyncIterable<T>(source)) {
    return new AsyncTrackedLoop(source[Symbol.asyncIterator](), settingsFrom(options, undefined));
  }
  throw new TypeError(
    `livestep: track() got ${describe(source)}; pass a count, an array, or any iterable or async iterable`,
  );
}

function settingsFrom(options: TrackOptions, size: number | undefined): LoopSettings {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`livestep: track() options must be an object, got ${describe(options)}`);
  }
  if (options.run !== undefined && options.runOptions !== undefined) {
    throw new TypeError(
      'livestep: track() got both run and runOptions; runOptions configure a run the loop starts itself, so pass one or the other',
    );
  }
  if (options.run !== undefined && typeof options.run?.nextStep !== 'function') {
    throw new TypeError(
      `livestep: track() option run got ${describe(options.run)}; pass a run from startRun()`,
    );
  }
  const total = options.total ?? size;
  if (total !== undefined && (!Number.isSafeInteger(total) || total < 0)) {
    throw new TypeError(
      `livestep: track() option total got ${String(total)}; pass a whole number >= 0, or leave it out`,
    );
  }
  const endTimeoutMs = options.endTimeoutMs;
  if (endTimeoutMs !== undefined) {
    if (options.run !== undefined) {
      throw new TypeError(
        'livestep: track() got both run and endTimeoutMs; the loop never ends a run passed in, so pass the timeout to run.end({ timeoutMs }) instead',
      );
    }
    if (typeof endTimeoutMs !== 'number' || !Number.isFinite(endTimeoutMs) || endTimeoutMs < 0) {
      throw new TypeError(
        `livestep: track() option endTimeoutMs got ${describe(endTimeoutMs)}; pass a number of milliseconds >= 0 (how long the loop's own run's end() waits for delivery), or leave it out`,
      );
    }
  }
  const lineIntervalMs = options.lineIntervalMs ?? DEFAULT_LINE_INTERVAL_MS;
  if (typeof lineIntervalMs !== 'number' || !(lineIntervalMs >= 0)) {
    throw new TypeError(
      `livestep: track() option lineIntervalMs got ${String(lineIntervalMs)}; pass a number of milliseconds >= 0`,
    );
  }
  if (options.stream !== undefined && typeof options.stream?.write !== 'function') {
    throw new TypeError(
      `livestep: track() option stream got ${describe(options.stream)}; pass a writable stream such as process.stderr`,
    );
  }
  if (options.advanceStep !== undefined && typeof options.advanceStep !== 'boolean') {
    throw new TypeError(
      `livestep: track() option advanceStep got ${describe(options.advanceStep)}; pass true (each iteration is a step), false (the run's step is left alone), or leave it out`,
    );
  }
  const systemMetrics = options.systemMetrics ?? false;
  if (
    typeof systemMetrics !== 'boolean' &&
    (typeof systemMetrics !== 'object' || systemMetrics === null)
  ) {
    throw new TypeError(
      `livestep: track() option systemMetrics got ${describe(systemMetrics)}; pass true, false or the monitor's options ({ intervalMs, gpu })`,
    );
  }
  return {
    run: options.run,
    runOptions: options.runOptions,
    total,
    description: options.description === undefined ? undefined : String(options.description),
    progress: checkProgressMode(options.progress ?? 'auto'),
    stream: options.stream,
    lineIntervalMs,
    systemMetrics:
      systemMetrics === false ? undefined : systemMetrics === true ? {} : systemMetrics,
    endTimeoutMs,
    advanceStep: options.advanceStep,
  };
}

/** 0, 1, ..., count - 1, without an array. */
function countUpTo(count: number): Iterator<number> {
  let next = 0;
  return {
    next: () => (next < count ? { done: false, value: next++ } : { done: true, value: undefined }),
  };
}

/** The number of values, when the data says so without being iterated. */
function sizeOf(source: Iterable<unknown>): number | undefined {
  // A string's length counts UTF-16 units, not the characters it iterates.
  if (typeof source === 'string') return undefined;
  const { length, size } = source as { length?: unknown; size?: unknown };
  if (typeof length === 'number') return length;
  if (typeof size === 'number') return size;
  return undefined;
}

function isIterable<T>(value: unknown): value is Iterable<T> {
  return (
    (typeof value === 'object' || typeof value === 'string') &&
    value !== null &&
    typeof (value as Iterable<T>)[Symbol.iterator] === 'function'
  );
}

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AsyncIterable<T>)[Symbol.asyncIterator] === 'function'
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `${typeof value} ${String(value)}`;
}
