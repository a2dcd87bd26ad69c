/**
 * Small helpers shared by the benchmarks: statistics, formatting, and the one machine-readable
 * line each benchmark prints for `run-all.mjs`:
 *
 *   RESULT {"name": "...", "metrics": {...}, "targets": [{name, value, limit, pass, level}]}
 *
 * A target passes when `value <= limit`. `level` is "target" (a miss fails `run-all --check`)
 * or "goal" (reported, never fails a run).
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** The prefix run-all.mjs looks for on a benchmark's stdout. */
export const RESULT_PREFIX = 'RESULT ';

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function minimum(values) {
  return Math.min(...values);
}

export function maximum(values) {
  return Math.max(...values);
}

/** Rounds to `digits` decimals, as a number (for the RESULT line). */
export function round(value, digits = 0) {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function formatInteger(value) {
  return Math.round(value).toLocaleString('en');
}

export function megabytes(bytes) {
  return bytes / 1024 / 1024;
}

export function formatMegabytes(bytes) {
  return `${megabytes(bytes).toFixed(1)} MB`;
}

/** Forces a full garbage collection when node runs with --expose-gc; a no-op otherwise. */
export function collectGarbage() {
  if (typeof globalThis.gc === 'function') {
    // Twice: the first pass may only schedule finalizers whose objects the second one frees.
    globalThis.gc();
    globalThis.gc();
  }
}

export function requireExposedGc(benchmark) {
  if (typeof globalThis.gc !== 'function') {
    throw new Error(`${benchmark}: run with node --expose-gc (run-all.mjs does this)`);
  }
}

/** Lets timers and I/O callbacks run, as a training loop does between steps. */
export function yieldToEventLoop() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Counts newline bytes in a file without holding it in memory as a string. */
export function countLines(path) {
  const chunk = Buffer.allocUnsafe(1 << 20);
  const descriptor = openSync(path, 'r');
  let lines = 0;
  try {
    for (;;) {
      const read = readSync(descriptor, chunk, 0, chunk.length, null);
      if (read === 0) break;
      let index = chunk.indexOf(10);
      while (index !== -1 && index < read) {
        lines++;
        index = chunk.indexOf(10, index + 1);
      }
    }
  } finally {
    closeSync(descriptor);
  }
  return lines;
}

/**
 * A deterministic sequence of doubles in [0, 1) (a 32-bit xorshift), so every run and both sides
 * of a comparison serialize exactly the same values. Full-precision values, like real losses:
 * number-to-text conversion is a real part of the cost.
 */
export function deterministicValues(count, seed = 0x9e3779b9) {
  const values = new Float64Array(count);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < count; index++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    values[index] = state / 2 ** 32;
  }
  return values;
}

/** A target row for the RESULT line: passes when value <= limit. */
export function target(name, value, limit, level = 'target') {
  return { name, value, limit, pass: value <= limit, level };
}

export function printResult(result) {
  console.log(RESULT_PREFIX + JSON.stringify(result));
}
