/**
 * The new points of a commit, for the live stream (CommittedBatch.points), kept as one flat
 * array of numbers per series (step, value, ts, step, value, ts, ...) until someone reads them.
 * Most commits are never read: the live hub writes a frame only when a subscriber wants it. A
 * `[step, value, ts]` array per point was 500,000 small objects for 500,000 points, each held by
 * the hub's replay ring, and so kept through collections.
 */
import type { CommittedBatch } from '../run-store.js';

/** Series name -> step, value, ts of each point, in the order stored. */
export type FlatPoints = Record<string, number[]>;

/** `batch` with a `points` that turns `flat` into [step, value, ts] arrays when first read. */
export function withLazyPoints(
  batch: Omit<CommittedBatch, 'points'>,
  flat: FlatPoints,
): CommittedBatch {
  let points: CommittedBatch['points'] | undefined;
  return Object.defineProperty(batch, 'points', {
    enumerable: true,
    get() {
      if (points === undefined) {
        points = {};
        for (const name in flat) {
          const values = flat[name]!;
          const list: Array<[number, number, number]> = new Array(values.length / 3);
          for (let index = 0; index < list.length; index++) {
            list[index] = [values[index * 3]!, values[index * 3 + 1]!, values[index * 3 + 2]!];
          }
          points[name] = list;
        }
      }
      return points;
    },
  }) as CommittedBatch;
}
