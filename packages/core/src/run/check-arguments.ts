/**
 * The checks every logging method runs on its arguments. A failed check throws a TypeError that
 * names the argument, what it got and the fix; a passed one allocates nothing.
 */
import type { Labels } from '../protocol/events.js';
import { describeType, explainBadLabels } from '../protocol/names.js';

/** Longest experiment or run name; they end up in file names and page titles. */
const MAX_RUN_NAME_LENGTH = 200;

/** A step is an integer from 0 that JSON carries exactly (at most 2^53 - 1). */
export function isStep(step: unknown): boolean {
  return typeof step === 'number' && Number.isSafeInteger(step) && step >= 0;
}

export function isTimestamp(timestamp: unknown): boolean {
  return typeof timestamp === 'number' && Number.isFinite(timestamp) && timestamp >= 0;
}

/** The length of one of logMetricSeries' arrays; `expected` is the values' length, for the others. */
export function checkSeriesLength(
  series: unknown,
  field: string,
  name: string,
  expected: number | undefined,
): number {
  const length = (series as ArrayLike<unknown> | null | undefined)?.length;
  if (typeof series !== 'object' || series === null || typeof length !== 'number') {
    throw new TypeError(
      `livestep: logMetricSeries("${name}") got ${field} ${describeType(series)}; pass an array or a typed array of numbers`,
    );
  }
  if (expected !== undefined && length !== expected) {
    throw new RangeError(
      `livestep: logMetricSeries("${name}") got ${length} ${field} for ${expected} values; pass one per value`,
    );
  }
  return length;
}

export function throwBadSeriesEntry(
  name: string,
  field: string,
  index: number,
  entry: unknown,
  fix: string,
): never {
  const shown = typeof entry === 'number' ? String(entry) : describeType(entry);
  throw new TypeError(
    `livestep: logMetricSeries("${name}") ${field}[${index}] is ${shown}; ${fix}. Nothing of this series was recorded.`,
  );
}

/**
 * What an error message is about: `metric "train/loss"`, or `setStep`. Built only when a check
 * fails, so the checks on the logging path allocate no string.
 */
export function subject(thing: string, name: string | undefined): string {
  return name === undefined ? thing : `${thing} "${name}"`;
}

export function checkStep(step: unknown, thing: string, name?: string): number {
  if (isStep(step)) return step as number;
  throw new TypeError(
    `livestep: ${subject(thing, name)} got step ${typeof step === 'number' ? step : describeType(step)}; pass an integer from 0 to Number.MAX_SAFE_INTEGER`,
  );
}

export function checkTimestamp(timestamp: unknown, thing: string, name?: string): number {
  if (isTimestamp(timestamp)) return timestamp as number;
  throw new TypeError(
    `livestep: ${subject(thing, name)} got timestamp ${typeof timestamp === 'number' ? timestamp : describeType(timestamp)}; pass milliseconds since the epoch, such as Date.now()`,
  );
}

export function checkLabels(labels: unknown, thing: string, name?: string): Labels {
  const problem = explainBadLabels(labels);
  if (problem !== undefined) {
    throw new TypeError(`livestep: ${subject(thing, name)} labels ${problem}`);
  }
  return { ...(labels as Labels) };
}

export function checkRunName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(
      `livestep: ${field} must be a non-empty string, got ${describeType(value)}`,
    );
  }
  if (/[\u0000-\u001f\u007f]/.test(value) || value.length > MAX_RUN_NAME_LENGTH) {
    throw new TypeError(
      `livestep: ${field} ${JSON.stringify(value.slice(0, 60))} must be at most ${MAX_RUN_NAME_LENGTH} characters without control characters`,
    );
  }
  return value;
}
