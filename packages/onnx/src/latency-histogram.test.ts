import { describe, expect, it } from 'vitest';
import { LatencyHistogram, RELATIVE_ACCURACY } from './latency-histogram.js';
import { quantile } from './latency-stats.js';

describe('LatencyHistogram', () => {
  it('percentiles within 0.5% of the exact ones, count, mean, min and max exact', () => {
    let seed = 3;
    const random = () => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    // Log-normal-ish latencies from 10 µs to ~1 s, as a served model sees.
    const latencies = Array.from({ length: 100_000 }, () => 0.01 * Math.exp(8 * random() ** 3));
    const histogram = new LatencyHistogram();
    for (const latency of latencies) histogram.add(latency);
    const sorted = Float64Array.from(latencies).sort();
    const summary = histogram.summary();
    expect(summary.count).toBe(100_000);
    expect(summary.mean).toBeCloseTo(latencies.reduce((a, b) => a + b) / latencies.length, 10);
    expect(summary.min).toBe(sorted[0]);
    expect(summary.max).toBe(sorted.at(-1));
    for (const [q, value] of [
      [0.5, summary.p50],
      [0.9, summary.p90],
      [0.99, summary.p99],
    ] as const) {
      const exact = quantile(sorted, q);
      expect(Math.abs(value - exact) / exact).toBeLessThan(RELATIVE_ACCURACY * 1.01);
    }
  });

  it('handles no values, one value and zeros', () => {
    expect(new LatencyHistogram().summary().p50).toBeNaN();
    const one = new LatencyHistogram();
    one.add(2.5);
    expect(one.summary()).toEqual({
      count: 1,
      mean: 2.5,
      min: 2.5,
      max: 2.5,
      p50: 2.5,
      p90: 2.5,
      p99: 2.5,
    });
    const zeros = new LatencyHistogram();
    zeros.add(0);
    zeros.add(0);
    zeros.add(4);
    expect(zeros.quantile(0.5)).toBe(0);
    expect(zeros.quantile(1)).toBe(4);
  });
});
