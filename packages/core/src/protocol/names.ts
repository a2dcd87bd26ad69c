/**
 * Names of metrics, plots, images and artifacts are `/`-separated paths that sinks turn into
 * file paths (`train/loss` -> `plots/metrics/train/loss.tsv`), so no name may reach outside the
 * sink's directory.
 */
import { MAX_NAME_LENGTH } from './events.js';

/**
 * Validated names are remembered so the hot path pays one Set lookup per call. The bound keeps a
 * run that makes up names on the fly (e.g. one per sample) from growing the cache without end.
 */
const VALIDATED_NAMES_CACHE_SIZE = 10_000;

const validatedNames = new Set<string>();

// Characters that are control codes, or that some file system refuses or reads as a separator
// or a drive (`\`, `:` on Windows).
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f\\:*?"<>|]/;

/**
 * Segments that name an object's machinery in JavaScript: as keys they reach (or shadow) the
 * prototype when a sink nests names into objects (metrics.json, params).
 */
export const RESERVED_SEGMENTS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);

/**
 * Device names Windows reserves in every folder, with or without an extension (`CON`, `nul.txt`,
 * `COM1`): a run folder with such a file cannot be copied to, or synced from, a Windows machine.
 */
const WINDOWS_DEVICE_NAME = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\.[^.]*)?$/i;

/**
 * Longest path segment, in UTF-8 bytes. File systems allow 255 bytes a name; a segment becomes a
 * folder or file name with `.tsv` or `.json` after it, and an atomic write's temp file adds about
 * 20 more.
 */
export const MAX_SEGMENT_BYTES = 200;
/** Longest name in UTF-8 bytes: 200 characters of a 4-byte script, well inside PATH_MAX. */
export const MAX_NAME_BYTES = 800;
/** Labels per value: enough to tell series apart, few enough to stay one readable file name. */
export const MAX_LABELS = 16;
/** Longest label key and value, in UTF-8 bytes: `key=value` becomes one path segment. */
export const MAX_LABEL_KEY_BYTES = 64;
export const MAX_LABEL_VALUE_BYTES = 128;

/** metrics.json keeps the step under this key, beside the metrics. */
const SUMMARY_STEP_KEY = 'step';

export type NamedThing = 'metric' | 'plot' | 'image' | 'artifact' | 'param';

/**
 * The length of `text` in UTF-8 bytes, without Buffer (names are checked in the browser too). A
 * surrogate pair (4 bytes) counts 2 for each of its halves.
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdfff ? 2 : 3;
  }
  return bytes;
}

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
  const bytes = utf8Length(name);
  if (bytes > MAX_NAME_BYTES) {
    return `is ${bytes} bytes long in UTF-8; the limit is ${MAX_NAME_BYTES}`;
  }
  for (const segment of name.split('/')) {
    if (segment === '') return 'has an empty path segment ("//" or a trailing "/")';
    if (segment === '.' || segment === '..') return `has a "${segment}" path segment`;
    if (segment.trim() !== segment)
      return `has a path segment with leading or trailing spaces ("${segment}")`;
    if (WINDOWS_DEVICE_NAME.test(segment)) {
      return `has the path segment "${segment}", a device name on Windows (CON, NUL, COM1...); rename it, e.g. "${segment}_"`;
    }
    if (RESERVED_SEGMENTS.has(segment)) {
      return `has the reserved path segment "${segment}"; rename it (for example "${segment.replace(/_/g, '')}_")`;
    }
    const segmentBytes = utf8Length(segment);
    if (segmentBytes > MAX_SEGMENT_BYTES) {
      return `has a path segment of ${segmentBytes} bytes in UTF-8; file systems allow ${MAX_SEGMENT_BYTES} here, so split it with "/"`;
    }
  }
  return undefined;
}

/** True for the metric names metrics.json cannot hold: its own `step` key, or a folder named so. */
function isSummaryStepName(name: string): boolean {
  return name === SUMMARY_STEP_KEY || name.startsWith(`${SUMMARY_STEP_KEY}/`);
}

/** Returns why `labels` cannot tell series apart safely, or undefined when they can. */
export function explainBadLabels(labels: unknown): string | undefined {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    return `must be an object of strings such as { class: "cat" }, got ${describeType(labels)}`;
  }
  const keys = Object.keys(labels);
  if (keys.length > MAX_LABELS) return `has ${keys.length} labels; the limit is ${MAX_LABELS}`;
  for (const key of keys) {
    const value = (labels as Record<string, unknown>)[key];
    if (key === '' || FORBIDDEN_CHARACTERS.test(key) || /[/=]/.test(key)) {
      return `has the label key ${JSON.stringify(key)}; use a non-empty key without / = \\ : * ? " < > | or control characters`;
    }
    if (RESERVED_SEGMENTS.has(key)) return `has the reserved label key "${key}"; rename it`;
    if (utf8Length(key) > MAX_LABEL_KEY_BYTES) {
      return `has a label key of ${utf8Length(key)} bytes; the limit is ${MAX_LABEL_KEY_BYTES}`;
    }
    if (typeof value !== 'string') {
      return `label "${key}" is ${describeType(value)}; label values must be strings`;
    }
    if (/[\u0000-\u001f\u007f]/.test(value)) {
      return `label "${key}" contains a control character; label values are one line of text`;
    }
    if (utf8Length(value) > MAX_LABEL_VALUE_BYTES) {
      return `label "${key}" is ${utf8Length(value)} bytes long; the limit is ${MAX_LABEL_VALUE_BYTES}`;
    }
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
  if (thing === 'metric' && isSummaryStepName(name)) {
    throw new TypeError(
      `livestep: metric name ${JSON.stringify(name)} is reserved: metrics.json keeps the step under "step" (as DVCLive does); rename the metric, e.g. "train/step"`,
    );
  }
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
