import { describe, expect, it } from 'vitest';
import { classProbabilities, detectScoreKind, findNonFinite, outputRows } from './output-scores.js';

const tensor = (type: string, dims: number[], data: ArrayLike<number | bigint>) => ({
  type,
  dims,
  data,
});

describe('outputRows', () => {
  it('splits the first dimension into samples and flattens the rest', () => {
    expect(
      outputRows(tensor('float32', [2, 1, 2], Float32Array.from([1, 2, 3, 4])), 'out'),
    ).toEqual({
      rows: 2,
      width: 2,
      values: Float64Array.from([1, 2, 3, 4]),
    });
    expect(outputRows(tensor('int64', [2], BigInt64Array.from([5n, 6n])), 'out').values).toEqual(
      Float64Array.from([5, 6]),
    );
  });

  it('refuses non-tensors and non-numeric types with the fix', () => {
    expect(() => outputRows([{ a: 1 }], 'output "probabilities" of batch 0')).toThrow(
      /zipmap=False/,
    );
    expect(() => outputRows(tensor('float16', [1], Uint16Array.from([1])), 'out')).toThrow(
      /has type float16; .* Cast to float32/,
    );
  });
});

describe('scores', () => {
  it('detects probabilities (in [0, 1], rows sum to 1) and logits', () => {
    const rows = (values: number[], width: number) => ({
      rows: values.length / width,
      width,
      values: Float64Array.from(values),
    });
    expect(detectScoreKind(rows([0.2, 0.8, 1, 0], 2))).toBe('probabilities');
    expect(detectScoreKind(rows([0.2, 0.7], 2))).toBe('logits');
    expect(detectScoreKind(rows([1.5, -1], 2))).toBe('logits');
    expect(detectScoreKind(rows([0.3], 1))).toBe('probabilities');
  });

  it('softmax of logits, sigmoid of one logit, probabilities as given', () => {
    const softmax = classProbabilities(
      { rows: 1, width: 2, values: Float64Array.from([0, Math.log(3)]) },
      'logits',
      'out',
    );
    expect(softmax.probabilities[0]).toBeCloseTo(0.25, 12);
    expect(softmax.probabilities[1]).toBeCloseTo(0.75, 12);
    const sigmoid = classProbabilities(
      { rows: 1, width: 1, values: Float64Array.from([0]) },
      'logits',
      'out',
    );
    expect(sigmoid).toEqual({ classes: 2, probabilities: Float64Array.from([0.5, 0.5]) });
    const given = classProbabilities(
      { rows: 1, width: 1, values: Float64Array.from([0.25]) },
      'probabilities',
      'out',
    );
    expect([...given.probabilities]).toEqual([0.75, 0.25]);
    // large logits do not overflow
    const large = classProbabilities(
      { rows: 1, width: 2, values: Float64Array.from([1000, 0]) },
      'logits',
      'out',
    );
    expect([...large.probabilities]).toEqual([1, 0]);
  });
});

describe('findNonFinite', () => {
  const rows = (values: number[], width: number) => ({
    rows: values.length / width,
    width,
    values: Float64Array.from(values),
  });

  it('finds the first NaN or infinite value, by sample and position', () => {
    expect(findNonFinite(rows([1, 2, 3, 4], 2), false)).toBeUndefined();
    expect(findNonFinite(rows([1, 2, 3, Number.NaN], 2), false)).toEqual({
      sample: 1,
      position: 1,
      value: 'NaN',
    });
    expect(findNonFinite(rows([Number.POSITIVE_INFINITY], 1), false)?.value).toBe('Infinity');
  });

  it('lets -Infinity through only when asked (logits)', () => {
    const logProbabilities = rows([Math.log(0.5), Math.log(0.5), Number.NEGATIVE_INFINITY], 3);
    expect(findNonFinite(logProbabilities, false)?.value).toBe('-Infinity');
    expect(findNonFinite(logProbabilities, true)).toBeUndefined();
    expect([...classProbabilities(logProbabilities, 'logits', 'out').probabilities]).toEqual([
      0.5, 0.5, 0,
    ]);
  });
});
