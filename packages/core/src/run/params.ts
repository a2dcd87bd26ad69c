import { encodeNumber } from '../protocol/metric-value.js';
import { describeType, RESERVED_SEGMENTS } from '../protocol/names.js';

/** Deepest nesting accepted in params; deeper is almost always a cycle or a whole model object. */
const MAX_PARAMS_DEPTH = 32;

/**
 * Copies params into plain JSON data, so later changes to the caller's objects do not change what
 * was recorded. Non-finite numbers become "nan"/"inf"/"-inf" (as metrics); Dates become ISO
 * strings; functions, symbols, bigints and cycles are rejected, naming the key.
 */
export function toParams(params: unknown): Record<string, unknown> {
  if (!isPlainObject(params)) {
    throw new TypeError(
      `livestep: params must be an object such as { learningRate: 0.01 }, got ${describeType(params)}`,
    );
  }
  return convertObject(params, '', new Set(), 0);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function convertObject(
  object: Record<string, unknown>,
  path: string,
  seen: Set<unknown>,
  depth: number,
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  seen.add(object);
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined) continue;
    const keyPath = path ? `${path}.${key}` : key;
    if (RESERVED_SEGMENTS.has(key)) {
      throw new TypeError(
        `livestep: param "${keyPath}" uses the reserved key "${key}" (it names JavaScript's object machinery); rename it`,
      );
    }
    result[key] = convertValue(value, keyPath, seen, depth + 1);
  }
  seen.delete(object);
  return result;
}

function convertValue(value: unknown, path: string, seen: Set<unknown>, depth: number): unknown {
  if (depth > MAX_PARAMS_DEPTH) {
    throw new TypeError(
      `livestep: param "${path}" is nested more than ${MAX_PARAMS_DEPTH} levels deep`,
    );
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return encodeNumber(value);
    case 'object': {
      if (value === null) return null;
      if (seen.has(value))
        throw new TypeError(`livestep: param "${path}" refers to itself (a cycle)`);
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) {
          throw new TypeError(
            `livestep: param "${path}" is an invalid Date; pass a valid one or a string`,
          );
        }
        return value.toISOString();
      }
      if (Array.isArray(value)) {
        seen.add(value);
        const items = value.map((item, index) =>
          convertValue(item, `${path}[${index}]`, seen, depth + 1),
        );
        seen.delete(value);
        return items;
      }
      if (isPlainObject(value)) return convertObject(value, path, seen, depth);
      throw new TypeError(
        `livestep: param "${path}" is a ${value.constructor?.name ?? 'non-plain'} object; pass plain data (numbers, strings, booleans, arrays, objects)`,
      );
    }
    default:
      throw new TypeError(
        `livestep: param "${path}" is ${describeType(value)}; pass plain data (numbers, strings, booleans, arrays, objects)`,
      );
  }
}

/** Merges `update` into `target` in place: objects merge key by key, anything else replaces. */
export function mergeParams(
  target: Record<string, unknown>,
  update: Record<string, unknown>,
): void {
  for (const [key, value] of Object.entries(update)) {
    // Params from a file (a resumed params.yaml) are not checked by toParams: never let a key
    // reach the prototype.
    if (RESERVED_SEGMENTS.has(key)) continue;
    const existing = Object.hasOwn(target, key) ? target[key] : undefined;
    if (isPlainObject(existing) && isPlainObject(value)) mergeParams(existing, value);
    else target[key] = isPlainObject(value) ? structuredClone(value) : value;
  }
}
