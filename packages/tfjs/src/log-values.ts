/**
 * Logs as tfjs hands them to a callback: each value is either a number or a Scalar. Which one
 * depends on the callback's place in the list (an earlier callback that resolves logs, such as
 * EarlyStopping or a plain-object callback, replaces the Scalars with numbers in place), so both
 * are read here, and only when a value is needed.
 */
import { explainBadName, MAX_NAME_LENGTH } from '@livestep/core/protocol';
import type { Scalar } from '@tensorflow/tfjs-core';

/** The logs a tfjs callback receives: numbers, or Scalars not yet read back. */
export type TrainingLogs = Record<string, number | Scalar>;

/** Keys tfjs puts in batch logs that are bookkeeping, not metrics. */
const BOOKKEEPING_KEYS = new Set(['batch', 'size']);

/** Prefix tfjs gives the metrics it computes on validation data. */
const VALIDATION_PREFIX = 'val_';

/**
 * Room a prefix leaves for the names put after it (`train/batch/<metric>`,
 * `histograms/<weight name>`), so that a name made from it does not fail only after training.
 */
const NAME_ROOM_AFTER_PREFIX = 100;
/** The longest prefix accepted. */
const MAX_PREFIX_LENGTH = MAX_NAME_LENGTH - NAME_ROOM_AFTER_PREFIX;

/** Characters a livestep name may not contain; a tfjs metric key with one gets `_` instead. */
const UNSAFE_NAME_CHARACTERS = /[\u0000-\u001f\u007f\\:*?"<>|]/g;

/**
 * Reads every metric in `logs` as a number, awaiting one `data()` per Scalar (all at once). The
 * Scalars are left alone: tfjs disposes batch logs itself and History still needs epoch logs.
 */
export async function readLogs(logs: TrainingLogs | undefined): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  if (logs === undefined || logs === null) return values;
  const pendingKeys: string[] = [];
  const pendingReads: Array<Promise<ArrayLike<number>>> = [];
  for (const key of Object.keys(logs)) {
    if (BOOKKEEPING_KEYS.has(key)) continue;
    const value = logs[key];
    if (typeof value === 'number') values.set(key, value);
    else if (value !== undefined && value !== null && typeof value.data === 'function') {
      pendingKeys.push(key);
      pendingReads.push(value.data() as Promise<ArrayLike<number>>);
    }
  }
  if (pendingReads.length > 0) {
    const read = await Promise.all(pendingReads);
    for (let index = 0; index < pendingKeys.length; index++) {
      values.set(pendingKeys[index]!, Number(read[index]![0]));
    }
  }
  return values;
}

/**
 * Turns tfjs metric keys into livestep metric names, DVCLive's Keras way: `val_<metric>` becomes
 * `eval/<metric>`, anything else `train/<metric>`; per-batch values go under `train/batch/`.
 * Names are computed once per key and cached, so the per-batch path only looks them up.
 */
export function createMetricNamer(prefix: string): {
  epoch(key: string): string;
  batch(key: string): string;
} {
  const epochNames = new Map<string, string>();
  const batchNames = new Map<string, string>();
  const safe = (key: string) => key.replace(UNSAFE_NAME_CHARACTERS, '_');
  return {
    epoch(key) {
      let name = epochNames.get(key);
      if (name === undefined) {
        name = key.startsWith(VALIDATION_PREFIX)
          ? `${prefix}eval/${safe(key.slice(VALIDATION_PREFIX.length))}`
          : `${prefix}train/${safe(key)}`;
        epochNames.set(key, name);
      }
      return name;
    },
    batch(key) {
      let name = batchNames.get(key);
      if (name === undefined) {
        name = `${prefix}train/batch/${safe(key)}`;
        batchNames.set(key, name);
      }
      return name;
    },
  };
}

/**
 * `fold-1` -> `fold-1/`, `` -> ``. Checked here, when the callback is made, as livestep checks
 * every name, so a bad prefix fails at once instead of at the first epoch's metrics.
 */
export function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === '') return '';
  if (typeof prefix !== 'string') {
    throw new TypeError(
      `livestep: livestepCallback prefix must be a string such as "fold-1", got ${typeof prefix}`,
    );
  }
  const trimmed = prefix.replace(/\/+$/, '');
  if (trimmed === '' || trimmed.startsWith('/')) {
    throw new TypeError(
      `livestep: livestepCallback prefix ${JSON.stringify(prefix)} is not a relative name; pass something like "fold-1"`,
    );
  }
  const problem =
    trimmed.length > MAX_PREFIX_LENGTH
      ? `is ${trimmed.length} characters long; the limit is ${MAX_PREFIX_LENGTH}, to leave room for the names after it`
      : explainBadName(trimmed);
  if (problem !== undefined) {
    throw new TypeError(
      `livestep: livestepCallback prefix ${JSON.stringify(prefix)} ${problem}. Pass something like "fold-1" or "stage-2/finetune".`,
    );
  }
  return `${trimmed}/`;
}
