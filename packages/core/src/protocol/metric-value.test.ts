import { describe, expect, it } from 'vitest';
import { decodeMetricValue, encodeMetricValue } from './metric-value.js';

describe('encodeMetricValue', () => {
  it('passes finite numbers through unchanged', () => {
    for (const value of [0, -0, 1, -1.5, 1e-300, 1.7976931348623157e308, Number.MIN_VALUE]) {
      expect(encodeMetricValue('m', value)).toBe(value);
    }
  });

  it('keeps NaN and the infinities as the strings JSON can carry', () => {
    expect(encodeMetricValue('m', Number.NaN)).toBe('nan');
    expect(encodeMetricValue('m', Number.POSITIVE_INFINITY)).toBe('inf');
    expect(encodeMetricValue('m', Number.NEGATIVE_INFINITY)).toBe('-inf');
  });

  it.each([
    [
      'a string',
      '0.3',
      /metric "train\/loss" got a string \("0\.3"\); pass a number \(Number\("0\.3"\)/,
    ],
    ['a bigint', 3n, /metric "train\/loss" got a bigint \(3n\); pass a number \(Number\(value\)\)/],
    ['null', null, /metric "train\/loss" got null; pass a number/],
    ['undefined', undefined, /metric "train\/loss" got undefined; pass a number/],
    ['an object', { value: 1 }, /metric "train\/loss" got an object; pass a number/],
    ['an array', [1], /metric "train\/loss" got an array; pass a number/],
    ['a boolean', true, /metric "train\/loss" got a boolean \(true\); pass a number \(1 or 0\)/],
    ['a tensor', { dataSync: () => [1] }, /read the tensor first/],
  ])('rejects %s with an error naming the metric and the fix', (_, value, message) => {
    expect(() => encodeMetricValue('train/loss', value)).toThrow(TypeError);
    expect(() => encodeMetricValue('train/loss', value)).toThrow(message);
  });
});

describe('decodeMetricValue', () => {
  it('turns the protocol strings back into numbers', () => {
    expect(decodeMetricValue('nan')).toBeNaN();
    expect(decodeMetricValue('inf')).toBe(Number.POSITIVE_INFINITY);
    expect(decodeMetricValue('-inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(decodeMetricValue(0.25)).toBe(0.25);
  });
});
