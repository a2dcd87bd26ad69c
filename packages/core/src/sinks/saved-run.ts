/**
 * What a run folder in DVCLive's layout already holds, for resuming it: the summary
 * (metrics.json), its step, and the params (params.yaml). DVCLive's resume continues at the saved
 * step + 1 and keeps what was there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { MetricValue } from '../protocol.js';

export interface SavedRun {
  /** Latest value per metric name (`train/loss`), from metrics.json. */
  latestValues: Map<string, MetricValue>;
  /** The `step` metrics.json recorded, if any. */
  step?: number;
  params: Record<string, unknown>;
}

function flatten(
  object: Record<string, unknown>,
  prefix: string,
  into: Map<string, MetricValue>,
): void {
  for (const [key, value] of Object.entries(object)) {
    const name = prefix ? `${prefix}/${key}` : key;
    if (typeof value === 'number' || value === 'nan' || value === 'inf' || value === '-inf') {
      into.set(name, value);
    } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      flatten(value as Record<string, unknown>, name, into);
    }
  }
}

/** Reads a run folder; a folder that does not exist (or holds nothing) gives an empty saved run. */
export function readSavedRun(directory: string): SavedRun {
  const saved: SavedRun = { latestValues: new Map(), params: {} };
  const metricsFile = join(directory, 'metrics.json');
  if (existsSync(metricsFile)) {
    const summary = JSON.parse(readFileSync(metricsFile, 'utf8')) as Record<string, unknown>;
    const { step, ...metrics } = summary;
    if (typeof step === 'number' && Number.isInteger(step) && step >= 0) saved.step = step;
    flatten(metrics, '', saved.latestValues);
  }
  const paramsFile = join(directory, 'params.yaml');
  if (existsSync(paramsFile)) {
    const params = YAML.parse(readFileSync(paramsFile, 'utf8'));
    if (typeof params === 'object' && params !== null && !Array.isArray(params))
      saved.params = params;
  }
  return saved;
}
