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

/**
 * What `flat` holds in memory, estimated from how V8 keeps it: per series a hash entry, its name
 * (two bytes a character at most) and an array object, whose store, grown by push, has room for
 * at least 16 doubles and then half as many again as it holds. Many series of one point each
 * cost ~180 bytes a point, one series of many points ~12: a figure per point alone misses either.
 */
export function flatPointsBytes(flat: FlatPoints): number {
  let bytes = 0;
  for (const name in flat) {
    const length = flat[name]!.length;
    bytes += 96 + 2 * name.length + 8 * Math.max(16, Math.ceil(length * 1.5));
  }
  return bytes;
}

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
        points = Object.create(null) as CommittedBatch['points'];
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
