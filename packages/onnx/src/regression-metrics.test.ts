import { describe, expect, it } from 'vitest';
import { createRegressionAccumulator, regressionMetrics } from './regression-metrics.js';

describe('regressionMetrics', () => {
  it('perfect predictions', () => {
    expect(regressionMetrics([1, 2, 3], [1, 2, 3])).toEqual({
      samples: 3,
      outputs: 1,
      meanAbsoluteError: 0,
      meanSquaredError: 0,
      rootMeanSquaredError: 0,
      r2: 1,
    });
  });

  it('a hand-checked case', () => {
    // errors 0.5, -0.5, 0, 1 | targets 3, -0.5, 2, 7 (scikit-learn's docs example): mean 2.875,
    // sum of squared deviations 29.1875, of errors 1.5.
    const summary = regressionMetrics([2.5, 0.0, 2, 8], [3, -0.5, 2, 7]);
    expect(summary.meanAbsoluteError).toBeCloseTo(2 / 4, 12);
    expect(summary.meanSquaredError).toBeCloseTo(1.5 / 4, 12);
    expect(summary.rootMeanSquaredError).toBeCloseTo(Math.sqrt(0.375), 12);
    expect(summary.r2).toBeCloseTo(1 - 1.5 / 29.1875, 12);
    expect(summary.r2).toBeCloseTo(0.9486081370449679, 12);
  });

  it('all wrong by a constant: predicting the mean gives r2 0, worse is negative', () => {
    expect(regressionMetrics([2, 2, 2], [1, 2, 3]).r2).toBeCloseTo(0, 12);
    // residuals 1, 0, -1 doubled: 8 over a total of 2
    expect(regressionMetrics([3, 2, 1], [1, 2, 3]).r2).toBeCloseTo(1 - 8 / 2, 12);
  });

  it('a constant target: r2 is 1 when predicted exactly, else 0 (scikit-learn force_finite)', () => {
    expect(regressionMetrics([4, 4], [4, 4]).r2).toBe(1);
    expect(regressionMetrics([4, 5], [4, 4]).r2).toBe(0);
  });

  it('several outputs average uniformly; batches accumulate as one', () => {
    // output 0: predictions 1, 3 for targets 1, 2 -> MAE 0.5, MSE 0.5, R2 1 - 1/0.5 = -1
    // output 1: predictions 10, 20 for targets 10, 20 -> all 0, R2 1
    const accumulator = createRegressionAccumulator(2);
    accumulator.add([1, 10], [1, 10]);
    accumulator.add([3, 20], [2, 20]);
    const summary = accumulator.summary();
    expect(summary.samples).toBe(2);
    expect(summary.meanAbsoluteError).toBeCloseTo(0.25, 12);
    expect(summary.meanSquaredError).toBeCloseTo(0.25, 12);
    expect(summary.rootMeanSquaredError).toBeCloseTo(Math.sqrt(0.5) / 2, 12);
    expect(summary.r2).toBeCloseTo((-1 + 1) / 2, 12);
  });
});
