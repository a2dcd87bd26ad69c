/**
 * `trackEach()`: the loop body as a function, so the loop sees how it ends, exactly:
 *
 *   await trackEach(batches, async (batch, loop) => {
 *     loop.logMetric('train/loss', await trainOn(batch));
 *     if (converged) return false;            // stop early: the run ends completed
 *   }, { runOptions: { experiment: 'mnist' } });   // a throw: the run ends failed, with the error
 *
 * A `for` loop over `track()` cannot tell `break` from an exception (JavaScript calls the same
 * `return()` for both); here the exception passes through `trackEach`, which records it.
 */
import type { FlushReport } from '@livestep/core';
import { type TrackOptions, track } from './track.js';
import type { AsyncTrackedLoop, TrackedLoop } from './tracked-loop.js';

/** The loop handed to the body: log through it to see the values in the progress. */
export type AnyTrackedLoop<T> = TrackedLoop<T> | AsyncTrackedLoop<T>;

/** The body of a `trackEach()` loop: return (or resolve to) `false` to stop early; anything else goes on. */
export type LoopBody<T> = (item: T, loop: AnyTrackedLoop<T>) => unknown;

/**
 * Runs `body` for each value, one step each, and ends the loop's own run: `completed` when the
 * values run out or the body returns `false`, `failed` (with the error, which is then rethrown)
 * when the body or the source throws. With `options.run`, that run is left open. Resolves with
 * the own run's delivery report (undefined with `options.run`).
 */
export function trackEach(
  count: number,
  body: LoopBody<number>,
  options?: TrackOptions,
): Promise<FlushReport | undefined>;
export function trackEach<T>(
  source: Iterable<T> | AsyncIterable<T>,
  body: LoopBody<T>,
  options?: TrackOptions,
): Promise<FlushReport | undefined>;
export async function trackEach<T>(
  source: number | Iterable<T> | AsyncIterable<T>,
  body: LoopBody<T>,
  options: TrackOptions = {},
): Promise<FlushReport | undefined> {
  if (typeof body !== 'function') {
    throw new TypeError(
      `livestep: trackEach() got ${typeof body} as its body; pass a function (item, loop) => { ... }`,
    );
  }
  const loop = track(source as Iterable<T>, options) as AnyTrackedLoop<T>;
  try {
    for await (const item of loop) {
      if ((await body(item, loop)) === false) break;
    }
  } catch (error) {
    if (loop.endsRun) await loop.end('failed', { error });
    throw error;
  }
  return loop.endsRun ? loop.end('completed') : undefined;
}
