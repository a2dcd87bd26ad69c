import { describe, expect, it } from 'vitest';
import { histogramRows } from './weight-histograms.js';

describe('histogramRows', () => {
  it('counts values into equal-width bins from the minimum to the maximum', () => {
    expect(histogramRows([0, 1, 2, 3, 4, 4], 2)).toEqual([
      { bin: 1, lower: 0, upper: 2, count: 2 },
      { bin: 3, lower: 2, upper: 4, count: 4 },
    ]);
  });

  it('gives one bin when every value is the same, and none for no finite values', () => {
    expect(histogramRows([0, 0, 0], 5)).toEqual([{ bin: 0, lower: 0, upper: 0, count: 3 }]);
    expect(histogramRows([Number.NaN], 5)).toEqual([]);
  });
});
