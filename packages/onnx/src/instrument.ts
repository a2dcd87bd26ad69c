/**
 * instrument(): a session whose every `run()` call records its latency, so a hand-written loop
 * gets per-call latency with no other change.
 *
 * The hot path is two clock reads, one promise reaction and two stores into typed arrays: on a
 * tiny model a call takes ~20 µs, and those alone cost ~1 µs of it on a 2-core VM (see
 * bench/README.md, "the floor"). Latencies are logged together, up to BUFFER_CAPACITY at a time
 * with `run.logMetricSeries`: a log call squeezed between two native calls runs on cold caches
 * and costs several times what it costs in a batch. Buffered values keep their own timestamps
 * and steps, reach the run at most MAX_BUFFER_AGE_MS late (live enough for a chart), and are
 * logged before the run flushes or ends (`run.beforeFlush`), so none is lost. A summary of every
 * call (mean, p50, p90, p99 from a fixed-size histogram; the number of calls) is logged then too,
 * and at release; the session's inputs and outputs are params.
 */
import { endianness } from 'node:os';
import type { Run } from '@livestep/core';
import { assertValidName } from '@livestep/core/protocol';
import { emitLivestepWarning } from '@livestep/core/sink-kit';
import type { InferenceSession } from 'onnxruntime-common';
import { LatencyHistogram } from './latency-histogram.js';
import { describeSessionValues } from './model-metadata.js';
import { unknownOptionMessages } from './unknown-options.js';

function ignoreRejection(): void {}

/** Names start with `inference/` unless told otherwise: these are calls, not an evaluation. */
export const DEFAULT_INSTRUMENT_PREFIX = 'inference';

/** Where the low and high 32 bits of a 64-bit value sit in a Uint32Array over it. */
const [LOW_WORD, HIGH_WORD] = endianness() === 'LE' ? [0, 1] : [1, 0];
const TWO_TO_THE_32 = 2 ** 32;

/** The index-th 64-bit unsigned value of `words`, as a double. */
function wordsToNumber(words: Uint32Array, index: number): number {
  return words[2 * index + HIGH_WORD]! * TWO_TO_THE_32 + words[2 * index + LOW_WORD]!;
}

/** Latencies held before they are logged together. */
const BUFFER_CAPACITY = 256;
/** The longest a latency waits in the buffer when calls are slow: the dispatcher's own interval. */
const MAX_BUFFER_AGE_MS = 250;

export interface InstrumentOptions {
  /** First segment of the metric name (default `inference`, giving `inference/latency (ms)`). */
  prefix?: string;
}

/** Every option instrument() reads; `satisfies` keeps the list in step with InstrumentOptions. */
const INSTRUMENT_OPTION_NAMES = Object.keys({
  prefix: true,
} satisfies Record<keyof InstrumentOptions, true>);

/** Sessions instrument() returned, so instrumenting one again is caught. */
const instrumentedSessions = new WeakSet<object>();
/**
 * Per original session, what it is being recorded as (`<run id> <metric name>`) by wrappers not
 * yet released: a second wrapper recording the same series would restart its steps at 0.
 */
const recordings = new WeakMap<object, Set<string>>();

/**
 * Returns a session that behaves as `session` (same inputs, outputs, release, instanceof) and
 * records `<prefix>/latency (ms)` for each `run()` call, at step = the call's index (0, 1, ...),
 * timestamped when the call finished. Calls that throw are not recorded. The original session is
 * not changed.
 *
 *   const session = instrument(await InferenceSession.create('model.onnx'), run);
 *   for (const feeds of inputs) await session.run(feeds); // each call's latency is logged
 */
export function instrument<Session extends InferenceSession>(
  session: Session,
  run: Run,
  options: InstrumentOptions = {},
): Session {
  if (typeof session !== 'object' || session === null || typeof session.run !== 'function') {
    throw new TypeError(
      'livestep: instrument() needs an InferenceSession as its first argument; create one with InferenceSession.create(path)',
    );
  }
  if (typeof (run as Run | undefined)?.logMetricSeries !== 'function') {
    throw new TypeError(
      'livestep: instrument() needs a run as its second argument; pass the run from startRun()',
    );
  }
  for (const message of unknownOptionMessages(options, INSTRUMENT_OPTION_NAMES, 'instrument()')) {
    emitLivestepWarning(message);
  }
  const prefix = options.prefix ?? DEFAULT_INSTRUMENT_PREFIX;
  const name = `${prefix}/latency (ms)`;
  assertValidName(name, 'metric');
  if (instrumentedSessions.has(session)) {
    throw new TypeError(
      'livestep: instrument() got a session that instrument() returned, so every call would be recorded twice; instrument the original session once, and use what instrument() returned',
    );
  }
  const recording = `${run.id} ${name}`;
  let recorded = recordings.get(session);
  if (recorded?.has(recording)) {
    throw new TypeError(
      `livestep: instrument() is already recording this session as "${name}" in run "${run.name}"; use the session the first instrument() returned (or release it first), or pass another prefix`,
    );
  }
  if (recorded === undefined) {
    recorded = new Set();
    recordings.set(session, recorded);
  }
  recorded.add(recording);
  const summaryNames = {
    mean: `${prefix}/latency/mean (ms)`,
    p50: `${prefix}/latency/p50 (ms)`,
    p90: `${prefix}/latency/p90 (ms)`,
    p99: `${prefix}/latency/p99 (ms)`,
    calls: `${prefix}/calls`,
  };
  // What was instrumented, as evaluate() records a model's inputs and outputs.
  run.logParam(prefix, { model: describeSessionValues(session) });

  // Each call's start and finish, in hrtime nanoseconds, stored as the clock gives them: the hot
  // path does no arithmetic. They are read back through 32-bit views of the same memory, so the
  // latencies and timestamps are worked out in plain doubles (BigInt arithmetic cost ~200 ns a
  // value). A double holds hrtime nanoseconds exactly for 104 days of uptime.
  const startedAt = new BigUint64Array(BUFFER_CAPACITY);
  const finishedAt = new BigUint64Array(BUFFER_CAPACITY);
  const startedWords = new Uint32Array(startedAt.buffer);
  const finishedWords = new Uint32Array(finishedAt.buffer);
  /** Epoch milliseconds at hrtime 0, to turn a call's finish into its timestamp. */
  const epochAtHrtimeZero = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  let buffered = 0;
  let nextStep = 0;
  let ageTimer: ReturnType<typeof setTimeout> | undefined;
  // Filled when the buffer is logged, reused: logMetricSeries reads them at once and keeps none.
  const latencies = new Float64Array(BUFFER_CAPACITY);
  const timestamps = new Float64Array(BUFFER_CAPACITY);
  const steps = new Float64Array(BUFFER_CAPACITY);

  // Every call's latency, for the summary (bounded memory however many calls there are).
  const histogram = new LatencyHistogram();
  let summarizedCalls = 0;

  function logBuffered(): void {
    const count = buffered;
    if (count === 0) return;
    buffered = 0;
    for (let index = 0; index < count; index++) {
      const finished = wordsToNumber(finishedWords, index);
      const latency = (finished - wordsToNumber(startedWords, index)) / 1e6;
      latencies[index] = latency;
      histogram.add(latency);
      timestamps[index] = epochAtHrtimeZero + finished / 1e6;
      steps[index] = nextStep++;
    }
    run.logMetricSeries(name, latencies.subarray(0, count), {
      steps: steps.subarray(0, count),
      timestamps: timestamps.subarray(0, count),
    });
  }

  /** The summary of every call so far, at the run's step, when there were calls since the last. */
  function logSummary(): void {
    if (histogram.count === summarizedCalls || run.ended) return;
    summarizedCalls = histogram.count;
    const summary = histogram.summary();
    run.logMetrics({
      [summaryNames.mean]: summary.mean,
      [summaryNames.p50]: summary.p50,
      [summaryNames.p90]: summary.p90,
      [summaryNames.p99]: summary.p99,
      [summaryNames.calls]: summary.count,
    });
  }

  // Before the run flushes or ends: the buffered latencies, then the summary of all of them.
  const unregister = run.beforeFlush(() => {
    logBuffered();
    logSummary();
  });

  function onAgeTimer(): void {
    ageTimer = undefined;
    logBuffered();
  }
  function startAgeTimer(): void {
    // Not cleared when a full buffer is logged: re-arming a timer 100 times a second cost more
    // than the logging. Firing early only logs a younger buffer. Unref'd, so a buffer alone does
    // not keep a finished script alive (end() logs it anyway).
    ageTimer = setTimeout(onAgeTimer, MAX_BUFFER_AGE_MS);
    ageTimer.unref();
  }
  function stopAgeTimer(): void {
    if (ageTimer === undefined) return;
    clearTimeout(ageTimer);
    ageTimer = undefined;
  }

  // Typed as the session's implementation sees it: feeds, then fetches or options, then options.
  const originalRun = session.run as (
    feeds: InferenceSession.FeedsType,
    fetchesOrOptions?: InferenceSession.FetchesType | InferenceSession.RunOptions,
    options?: InferenceSession.RunOptions,
  ) => Promise<InferenceSession.ReturnType>;

  // Inherits from the session, so getters and methods other than run() reach the original.
  const instrumented = Object.create(session) as Session;
  Object.defineProperty(instrumented, 'run', {
    configurable: true,
    writable: true,
    value: function instrumentedRun(
      feeds: InferenceSession.FeedsType,
      fetchesOrOptions?: InferenceSession.FetchesType | InferenceSession.RunOptions,
      options?: InferenceSession.RunOptions,
    ): Promise<InferenceSession.ReturnType> {
      const started = process.hrtime.bigint();
      // Named parameters rather than a rest array and apply(): cheaper on every call, and
      // onnxruntime reads an omitted argument and an undefined one the same way.
      const outputs = originalRun.call(session, feeds, fetchesOrOptions, options);
      // The caller gets the session's own promise: no extra hop. This reaction, registered
      // first, runs before the caller's code resumes; a rejection reaches the caller unchanged
      // and is not recorded.
      outputs.then(() => {
        finishedAt[buffered] = process.hrtime.bigint();
        startedAt[buffered] = started;
        buffered++;
        if (buffered === BUFFER_CAPACITY) logBuffered();
        else if (ageTimer === undefined) startAgeTimer();
      }, ignoreRejection);
      return outputs;
    },
  });
  const originalRelease = session.release;
  Object.defineProperty(instrumented, 'release', {
    configurable: true,
    writable: true,
    // Releasing the session logs what it buffered and lets go of the run's callback, so
    // instrumenting many short-lived sessions on one run holds nothing of them.
    value: function instrumentedRelease(): Promise<void> {
      logBuffered();
      logSummary();
      stopAgeTimer();
      unregister();
      recorded.delete(recording);
      return originalRelease.call(session);
    },
  });
  instrumentedSessions.add(instrumented);
  return instrumented;
}
