/**
 * Downsampling that hides nothing: a chart asks for about N buckets and every point of the range
 * lands in exactly one of them, each bucket carrying its count, NaN count, min, max and last
 * value. A spike is never averaged away (ClearML) or sampled out (TensorBoard's reservoir).
 *
 * Long series stay fast because the store keeps, at ingest, one aggregate per block of steps at
 * each of BLOCK_SIZES: a bucket is assembled from whole blocks (plus raw points at the edges of a
 * zoomed range), so a view of a 1,000,000-point series reads a few thousand rows, not the points.
 */

/**
 * Steps per block at each summary level, each 4x the one before: a bucket of width W is built
 * from blocks of the largest size at most W/2, so it holds 2 to 8 blocks (rows read: at most 8
 * per bucket) and its width is within a block of W. 16 is the smallest: below that, reading the
 * raw points costs no more than reading blocks. 65,536 covers 10^8-step series in ~1,500 rows.
 */
export const BLOCK_SIZES = [16, 64, 256, 1024, 4096, 16384, 65536] as const;

/** The largest block size at most half the bucket width, or 0: read raw points. */
export function chooseBlockSize(bucketWidth: number): number {
  let chosen = 0;
  for (const size of BLOCK_SIZES) if (size <= bucketWidth / 2) chosen = size;
  return chosen;
}

/** The aggregate of some points (a block, a bucket); values are numbers with NaN kept. */
export interface Aggregate {
  count: number;
  nanCount: number;
  /** Over non-NaN values; NaN when there is none. */
  min: number;
  max: number;
  firstStep: number;
  firstTs: number;
  lastTs: number;
  lastStep: number;
  lastSeq: number;
  lastValue: number;
}

export function pointAggregate(step: number, seq: number, ts: number, value: number): Aggregate {
  return {
    count: 1,
    nanCount: Number.isNaN(value) ? 1 : 0,
    min: value,
    max: value,
    firstStep: step,
    firstTs: ts,
    lastTs: ts,
    lastStep: step,
    lastSeq: seq,
    lastValue: value,
  };
}

/** Adds `part` into `into` (in place). */
export function mergeAggregate(into: Aggregate, part: Aggregate): void {
  into.count += part.count;
  into.nanCount += part.nanCount;
  if (!Number.isNaN(part.min) && !(part.min >= into.min)) into.min = part.min;
  if (!Number.isNaN(part.max) && !(part.max <= into.max)) into.max = part.max;
  if (part.firstStep < into.firstStep) into.firstStep = part.firstStep;
  if (part.firstTs < into.firstTs) into.firstTs = part.firstTs;
  if (part.lastTs > into.lastTs) into.lastTs = part.lastTs;
  if (
    part.lastStep > into.lastStep ||
    (part.lastStep === into.lastStep && part.lastSeq > into.lastSeq)
  ) {
    into.lastStep = part.lastStep;
    into.lastSeq = part.lastSeq;
    into.lastValue = part.lastValue;
  }
}

export function copyAggregate(aggregate: Aggregate): Aggregate {
  return { ...aggregate };
}
