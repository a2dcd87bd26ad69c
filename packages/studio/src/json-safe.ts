/**
 * DVC Studio's JSON must not contain NaN or Infinity: the reference client fails a whole post on
 * them, and `JSON.stringify` would silently turn them into `null`. Non-finite numbers are written
 * as the strings DVCLive uses instead.
 */

/** `NaN` -> "nan", `Infinity` -> "inf", `-Infinity` -> "-inf"; anything else unchanged. */
export function finiteOrString(value: number): number | 'nan' | 'inf' | '-inf' {
  if (value - value === 0) return value;
  if (Number.isNaN(value)) return 'nan';
  return value > 0 ? 'inf' : '-inf';
}

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' ? finiteOrString(value) : value;
}

/** `JSON.stringify` that writes non-finite numbers as "nan" / "inf" / "-inf" at any depth. */
export function stringifyJsonSafe(value: unknown): string {
  return JSON.stringify(value, replacer);
}
