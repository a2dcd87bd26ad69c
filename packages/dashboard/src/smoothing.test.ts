import { describe, expect, it } from 'vitest';
import { debiasedEma } from './smoothing.js';

describe('debiasedEma', () => {
  it('starts at the first value (no pull towards 0) and follows a constant exactly', () => {
    expect(debiasedEma([5, 5, 5, 5], 0.9)).toEqual([5, 5, 5, 5].map(() => expect.closeTo(5, 12)));
  });

  it('is TensorBoard’s formula: EMA / (1 - w^n)', () => {
    const [a, b] = debiasedEma([1, 3], 0.5);
    expect(a).toBeCloseTo(1, 12);
    // ema = 0.5*(0.5*1) + 0.5*3 = 1.75; debias 1 - 0.25 = 0.75
    expect(b).toBeCloseTo(1.75 / 0.75, 12);
  });

  it('returns the values as they are at weight 0, and carries on through NaN and infinities', () => {
    expect(debiasedEma([1, 2, null], 0)).toEqual([1, 2, null]);
    const smoothed = debiasedEma([1, Number.NaN, Number.POSITIVE_INFINITY, 1], 0.6);
    expect(smoothed[1]).toBe(smoothed[0]);
    expect(smoothed[2]).toBe(smoothed[0]);
    expect(smoothed[3]).toBeCloseTo(1, 12);
  });
});
