/**
 * instrument(): a session whose every `run()` call records its latency, so a hand-written loop
 * gets per-call latency with no other change. The hot path is two clock reads and one
 * `logMetric` (which only validates and queues).
 */
import { assertValidName, type Run } from '@livestep/core';
import type { InferenceSession } from 'onnxruntime-common';

function ignoreRejection(): void {}

/** Names start with `inference/` unless told otherwise: these are calls, not an evaluation. */
export const DEFAULT_INSTRUMENT_PREFIX = 'inference';

export interface InstrumentOptions {
  /** First segment of the metric name (default `inference`, giving `inference/latency (ms)`). */
  prefix?: string;
}

/**
 * Returns a session that behaves as `session` (same inputs, outputs, release, instanceof) and
 * records `<prefix>/latency (ms)` for each `run()` call, at step = the call's index (0, 1, ...).
 * Calls that throw are not recorded. The original session is not changed.
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
  if (typeof (run as Run | undefined)?.logMetric !== 'function') {
    throw new TypeError(
      'livestep: instrument() needs a run as its second argument; pass the run from startRun()',
    );
  }
  const name = `${options.prefix ?? DEFAULT_INSTRUMENT_PREFIX}/latency (ms)`;
  assertValidName(name, 'metric');
  const original = session.run;
  // One options object, reused: logMetric reads it at once and keeps nothing of it.
  const metricOptions = { step: 0 };
  // Inherits from the session, so getters and methods other than run() reach the original.
  const instrumented = Object.create(session) as Session;
  Object.defineProperty(instrumented, 'run', {
    configurable: true,
    writable: true,
    value: function instrumentedRun(
      ...parameters: Parameters<InferenceSession['run']>
    ): Promise<InferenceSession.ReturnType> {
      const started = performance.now();
      // Feeds, fetches and run options go on exactly as given.
      const outputs = original.apply(session, parameters) as Promise<InferenceSession.ReturnType>;
      // The caller gets the session's own promise: no extra hop. This reaction, registered
      // first, runs before the caller's code resumes, so the latency is logged by then; a
      // rejection reaches the caller unchanged and is not recorded.
      outputs.then(() => {
        run.logMetric(name, performance.now() - started, metricOptions);
        metricOptions.step++;
      }, ignoreRejection);
      return outputs;
    },
  });
  return instrumented;
}
