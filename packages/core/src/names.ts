/**
 * Names of metrics, plots, images and artifacts are `/`-separated paths that sinks turn into
 * file paths (`train/loss` -> `plots/metrics/train/loss.tsv`), so no name may reach outside the
 * sink's directory.
 */
import { MAX_NAME_LENGTH } from './protocol.js';

/**
 * Validated names are remembered so the hot path pays one Set lookup per call. The bound keeps a
 * run that makes up names on the fly (e.g. one per sample) from growing the cache without end.
 */
const VALIDATED_NAMES_CACHE_SIZE = 10_000;

const validatedNames = new Set<string>();

// Characters that are control codes, or that some file system refuses or reads as a separator
// or a drive (`\`, `:` on Windows).
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f\\:*?"<>|]/;

export type NamedThing = 'metric' | 'plot' | 'image' | 'artifact' | 'param';

/** Returns why `name` is not a safe name, or undefined when it is. */
export function explainBadName(name: unknown): string | undefined {
  if (typeof name !== 'string') return `must be a string, got ${describeType(name)}`;
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_NAME_LENGTH) {
    return `is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`;
  }
  const forbidden = FORBIDDEN_CHARACTERS.exec(name);
  if (forbidden) {
    return `contains ${showCharacter(forbidden[0])}; use letters, digits, spaces and / _ - . ( ) % only`;
  }
  if (name.startsWith('/')) return 'must be relative (it starts with "/")';
  for (const segment of name.split('/')) {
    if (segment === '') return 'has an empty path segment ("//" or a trailing "/")';
    if (segment === '.' || segment === '..') return `has a "${segment}" path segment`;
    if (segment.trim() !== segment)
      return `has a path segment with leading or trailing spaces ("${segment}")`;
  }
  return undefined;
}

/** Shows a character so that control characters are visible: "\\u0000", "\\n", ":". */
function showCharacter(character: string): string {
  const code = character.charCodeAt(0);
  if (code < 0x20 || code === 0x7f) {
    return code === 0x0a ? '"\\n"' : `"\\u${code.toString(16).padStart(4, '0')}"`;
  }
  return JSON.stringify(character);
}

/** Throws a TypeError naming the thing and the fix when `name` is not safe; cheap when it was seen before. */
export function assertValidName(name: string, thing: NamedThing): void {
  if (validatedNames.has(name)) return;
  const problem = explainBadName(name);
  if (problem !== undefined) {
    const shown = typeof name === 'string' ? JSON.stringify(name) : String(name);
    throw new TypeError(
      `livestep: ${thing} name ${shown} ${problem}. Names are "/"-separated paths like "train/loss".`,
    );
  }
  if (validatedNames.size >= VALIDATED_NAMES_CACHE_SIZE) validatedNames.clear();
  validatedNames.add(name);
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
    case 'bigint':
      return `a bigint (${value}n)`;
    case 'boolean':
      return `a boolean (${value})`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}
