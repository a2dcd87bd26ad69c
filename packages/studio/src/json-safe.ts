/**
 * DVC Studio's JSON must not contain NaN or Infinity: the reference client fails a whole post on
 * them, and `JSON.stringify` would silently turn them into `null`. Non-finite numbers are written
 * as the strings DVCLive uses instead, by core's one codec (`encodeNumber`).
 */
import { encodeNumber } from '@livestep/core/protocol';

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' ? encodeNumber(value) : value;
}

/** `JSON.stringify` that writes non-finite numbers as "nan" / "inf" / "-inf" at any depth. */
export function stringifyJsonSafe(value: unknown): string {
  return JSON.stringify(value, replacer);
}
