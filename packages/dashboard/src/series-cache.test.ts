import { describe, expect, it } from 'vitest';
import type { Bucket } from './api-types.js';
import { SeriesData } from './series-cache.js';

const bucket = (step: number, last: number, min = last, max = last, count = 1): Bucket => ({
  x: step,
  firstStep: step,
  lastStep: step,
  firstTs: 1000 + step,
  lastTs: 1000 + step,
  count,
  nanCount: 0,
  min,
  max,
  last,
});

describe('SeriesData', () => {
  it('keeps the buckets’ min/max band and appends only new live steps', () => {
    const series = new SeriesData('r', 'train/loss', 'step', 0);
    series.replace([bucket(0, 1, 0.5, 9, 4), bucket(4, 0.8)]);
    expect(series.max).toEqual([9, 0.8]);
    expect(series.points).toBe(5);
    expect(
      series.appendLive([
        [4, 0.8, 1004],
        [5, 0.7, 1005],
        [5, 0.7, 1005],
      ]),
    ).toBe(1);
    expect(series.steps).toEqual([0, 4, 5]);
  });

  it('holds live points during a fetch: none lost, none twice', () => {
    const series = new SeriesData('r', 'm', 'step', 0);
    series.replace([bucket(0, 1)]);
    series.beginFetch();
    series.appendLive([
      [1, 0.9, 1001],
      [2, 0.8, 1002],
    ]);
    // The fetch was read after step 1 was committed, before step 2.
    series.replace([bucket(0, 1), bucket(1, 0.9)]);
    expect(series.steps).toEqual([0, 1, 2]);
  });

  it('places live points on the time and relative axes, NaN as a gap', () => {
    const relative = new SeriesData('r', 'm', 'relative', 1000);
    relative.replace([]);
    relative.appendLive([[3, 'nan', 1500]]);
    expect(relative.x).toEqual([500]);
    expect(relative.last).toEqual([null]);
  });

  it('replaces only the zoomed range with finer buckets, keeping the rest', () => {
    const series = new SeriesData('r', 'm', 'step', 0);
    series.replace([
      bucket(0, 1, 1, 1, 10),
      bucket(10, 0.5, 0.4, 2, 10),
      bucket(20, 0.3, 0.3, 0.3, 10),
    ]);
    series.replaceRange([bucket(8, 0.6), bucket(9, 0.55), bucket(10, 0.5)], 5, 15);
    expect(series.steps).toEqual([0, 8, 9, 10, 20]);
    expect(series.points).toBe(23);
    expect(series.lastStep).toBe(20);
  });
});
