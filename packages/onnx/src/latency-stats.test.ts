import { describe, expect, it } from 'vitest';
import { quantile, samplesPerSecond, summarizeLatencies } from './latency-stats.js';

describe('latency statistics', () => {
  it('interpolates quantiles linearly between ranks (numpy default)', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    // position (10 - 1) * 0.9 = 8.1 -> 9 + 0.1 * (10 - 9)
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(quantile(ten, 0.9)).toBeCloseTo(9.1, 12);
    expect(quantile(ten, 0.99)).toBeCloseTo(9.91, 12);
    expect(quantile([7], 0.99)).toBe(7);
  });

  it('summarizes unsorted latencies', () => {
    expect(summarizeLatencies([4, 1, 3, 2])).toEqual({
      count: 4,
      mean: 2.5,
      p50: 2.5,
      p90: 3.7,
      p99: 3.9699999999999998,
      min: 1,
      max: 4,
      total: 10,
    });
  });

  it('gives throughput in samples per second of model time', () => {
    expect(samplesPerSecond(50, 250)).toBe(200);
    expect(samplesPerSecond(1, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});
