import type { MetricValue } from './events.js';
import { describeType } from './names.js';

/**
 * Turns a logged number into its protocol form: finite numbers pass unchanged; NaN and the
 * infinities are kept, as the strings JSON can carry. Anything that is not a number is a
 * programmer error and throws at once, naming the metric and the fix.
 */
export function encodeMetricValue(name: string, value: unknown): MetricValue {
  if (typeof value === 'number') return encodeNumber(value);
  throw new TypeError(explainBadValue(name, value));
}

/**
 * A number as JSON can carry it, the one codec for every value livestep writes (metrics, params,
 * Studio bodies): finite numbers unchanged; NaN and the infinities as the words DVCLive writes,
 * "nan", "inf", "-inf" (`JSON.stringify` would silently turn them into null).
 */
export function encodeNumber(value: number): MetricValue {
  if (value - value === 0) return value; // finite: the fast check (NaN and ±Infinity give NaN)
  if (Number.isNaN(value)) return 'nan';
  return value > 0 ? 'inf' : '-inf';
}

function explainBadValue(name: string, value: unknown): string {
  const got = describeType(value);
  let fix = 'pass a number';
  if (typeof value === 'string')
    fix = `pass a number (Number(${JSON.stringify(value)}) if it is one)`;
  else if (typeof value === 'bigint') fix = 'pass a number (Number(value))';
  else if (typeof value === 'boolean') fix = 'pass a number (1 or 0)';
  else if (isTensorLike(value))
    fix = 'pass a number: read the tensor first (await tensor.data())[0]';
  return `livestep: metric "${name}" got ${got}; ${fix}`;
}

function isTensorLike(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'dataSync' in value;
}

/** The number a protocol value stands for. */
export function decodeMetricValue(value: MetricValue): number {
  if (typeof value === 'number') return value;
  if (value === 'nan') return Number.NaN;
  return value === 'inf' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
}
