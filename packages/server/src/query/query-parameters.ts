/**
 * Reading query-string parameters from the network: each one checked, with a 400 that names it
 * and says what it takes. Names go through core's name rule; run ids must be UUIDs.
 */
import { explainBadName } from '@livestep/core/protocol';
import { badParameter } from '../http/http-error.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The longest free-text parameter (a filter, a search): anything longer is not typed by hand. */
export const MAX_TEXT_PARAMETER_LENGTH = 2_000;

export type Query = Record<string, unknown>;

export function text(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw badParameter(name, 'give it once');
  if (value.length > MAX_TEXT_PARAMETER_LENGTH) {
    throw badParameter(
      name,
      `is ${value.length} characters long; at most ${MAX_TEXT_PARAMETER_LENGTH}`,
    );
  }
  return value;
}

export function integer(
  query: Query,
  name: string,
  { fallback, min, max }: { fallback?: number; min: number; max: number },
): number | undefined {
  const value = text(query, name);
  if (value === undefined) return fallback;
  if (!/^-?\d{1,16}$/.test(value))
    throw badParameter(name, `must be an integer, got ${JSON.stringify(value)}`);
  const number = Number(value);
  if (number < min || number > max)
    throw badParameter(name, `must be between ${min} and ${max}, got ${number}`);
  return number;
}

export function finiteNumber(query: Query, name: string): number | undefined {
  const value = text(query, name);
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isFinite(number))
    throw badParameter(name, `must be a number, got ${JSON.stringify(value)}`);
  return number;
}

export function oneOf<T extends string>(
  query: Query,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = text(query, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw badParameter(name, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

export function metricName(value: unknown, name = 'name'): string {
  if (typeof value !== 'string' || value === '') {
    throw badParameter(name, 'is required: a metric (or plot, image) name such as train/loss');
  }
  const problem = explainBadName(value);
  if (problem !== undefined)
    throw badParameter(name, `${JSON.stringify(value.slice(0, 100))} ${problem}`);
  return value;
}

export function runId(value: unknown, name = 'id'): string {
  if (typeof value !== 'string' || !UUID.test(value)) {
    throw badParameter(
      name,
      `must be a run id (a lowercase UUID), got ${JSON.stringify(String(value).slice(0, 80))}`,
    );
  }
  return value;
}

/** `a,b,c` (or the parameter repeated) -> ['a', 'b', 'c'], at most `max` items. */
export function list(query: Query, name: string, max: number): string[] {
  const value = query[name];
  if (value === undefined || value === '') return [];
  const parts = (Array.isArray(value) ? value : [value]).flatMap((item) => String(item).split(','));
  const items = parts.map((item) => item.trim()).filter((item) => item !== '');
  if (items.length > max)
    throw badParameter(name, `takes at most ${max} items, got ${items.length}`);
  return items;
}
