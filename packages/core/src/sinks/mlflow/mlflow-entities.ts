/**
 * What livestep's events become in MLflow's tracking API (backends.md D): metric, param and tag
 * entities for `runs/log-batch`, with MLflow's names, values and limits.
 *
 * - Metric keys: the DVCLive series name (`name`, then `key=value` per label, sorted), with every
 *   character MLflow refuses (its keys match `^[/\w.\- ]*$`) replaced by `_`:
 *   `val/precision` with `{class: "setosa"}` becomes `val/precision/class_setosa`.
 * - Metric values: finite numbers as they are; NaN, +inf and -inf as the strings `"NaN"`,
 *   `"Infinity"` and `"-Infinity"`, the proto JSON mapping MLflow's server parses (ParseDict).
 *   MLflow's SQL store keeps NaN (as is_nan) but stores ±inf as ±1.7976931348623157e308.
 * - Params: nested objects are flattened with `.` (`{optimizer: {lr: 0.1}}` → `optimizer.lr`);
 *   arrays and other values are written as JSON (`[1,2]`), strings as they are, so a value reads
 *   back as it was logged. Keys get the same character rule as metric keys.
 * - Lengths: keys are cut to 250 characters, param values to 6000, tag values to 5000 (MLflow's
 *   limits); each cut is warned about by the sink.
 */
import { metricSeriesName } from '../../dvclive/layout.js';
import type { MetricEvent, MetricValue, StartEvent } from '../../protocol/events.js';

/** MLflow's LogBatch limits (mlflow/utils/validation.py, via backends.md D.2). */
export const MLFLOW_LIMITS = {
  maxMetrics: 1000,
  maxParams: 100,
  maxTags: 100,
  maxEntities: 1000,
  /** MAX_BATCH_LOG_REQUEST_SIZE = int(1e6): the whole request body. */
  maxRequestBytes: 1_000_000,
  maxKeyLength: 250,
  maxParamValueLength: 6000,
  maxTagValueLength: 5000,
} as const;

export type MlflowLimits = { [K in keyof typeof MLFLOW_LIMITS]: number };

/** A metric as LogBatch takes it; `value` a number or one of the proto JSON non-finite strings. */
export interface MlflowMetric {
  key: string;
  value: number | 'NaN' | 'Infinity' | '-Infinity';
  timestamp: number;
  step: number;
}

export interface MlflowKeyValue {
  key: string;
  value: string;
}

/** One entity waiting for log-batch; `events`: livestep events settled when it is delivered. */
export type MlflowEntity =
  | { type: 'metric'; entity: MlflowMetric; events: number }
  | { type: 'param'; entity: MlflowKeyValue; events: number }
  | { type: 'tag'; entity: MlflowKeyValue; events: number };

const NOT_ALLOWED_IN_KEY = /[^/\w.\- ]/g;

/** A cut the sink warns about: what was cut and from how long. */
export interface Cut {
  what: 'key' | 'param value' | 'tag value';
  key: string;
  length: number;
  limit: number;
}

/** A key MLflow accepts: disallowed characters → `_`, cut to the key length limit. */
export function mlflowKey(
  name: string,
  limits: MlflowLimits = MLFLOW_LIMITS,
  onCut?: (cut: Cut) => void,
): string {
  const key = name.replace(NOT_ALLOWED_IN_KEY, '_');
  if (key.length <= limits.maxKeyLength) return key;
  onCut?.({ what: 'key', key, length: key.length, limit: limits.maxKeyLength });
  return key.slice(0, limits.maxKeyLength);
}

/** The metric key of a livestep metric (see the top of this file). */
export function metricKey(
  name: string,
  labels?: Record<string, string>,
  limits?: MlflowLimits,
  onCut?: (cut: Cut) => void,
): string {
  return mlflowKey(metricSeriesName(name, labels), limits, onCut);
}

/** A livestep metric value as MLflow's JSON takes it (D.4). */
export function mlflowMetricValue(value: MetricValue | number): MlflowMetric['value'] {
  if (value === 'nan') return 'NaN';
  if (value === 'inf') return 'Infinity';
  if (value === '-inf') return '-Infinity';
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

export function metricEntity(
  event: MetricEvent,
  limits?: MlflowLimits,
  onCut?: (cut: Cut) => void,
): MlflowMetric {
  return {
    key: metricKey(event.name, event.labels, limits, onCut),
    value: mlflowMetricValue(event.value),
    timestamp: Math.max(0, Math.round(event.ts)),
    step: event.step,
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A param value as text: strings as they are, everything else as JSON. */
export function paramText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (value === undefined) return 'null';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Nested params flattened with `.` (or `separator`) into [name, text] pairs, in order:
 * `{optimizer: {lr: 0.1}}` → `[["optimizer.lr", "0.1"]]`. An empty object is a param of its own (`{}`).
 */
export function flattenParams(
  params: Record<string, unknown>,
  prefix = '',
  separator = '.',
): Array<[string, string]> {
  const flat: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(params)) {
    const path = prefix === '' ? name : `${prefix}${separator}${name}`;
    if (isPlainObject(value) && Object.keys(value).length > 0) {
      flat.push(...flattenParams(value, path, separator));
    } else {
      flat.push([path, paramText(value)]);
    }
  }
  return flat;
}

/** A value cut to `limit` characters, telling `onCut` when it was. */
export function cutValue(
  what: 'param value' | 'tag value',
  key: string,
  value: string,
  limit: number,
  onCut?: (cut: Cut) => void,
): string {
  if (value.length <= limit) return value;
  onCut?.({ what, key, length: value.length, limit });
  return value.slice(0, limit);
}

/** A tag MLflow takes (key and value within limits). */
export function tagEntity(
  name: string,
  value: string,
  limits: MlflowLimits = MLFLOW_LIMITS,
  onCut?: (cut: Cut) => void,
): MlflowKeyValue {
  const key = mlflowKey(name, limits, onCut);
  return { key, value: cutValue('tag value', key, value, limits.maxTagValueLength, onCut) };
}

/**
 * The tags of `runs/create`, named as MLflow's own clients name them (mlflow/utils/mlflow_tags.py):
 * the run name, the source (the script and LOCAL) and git (commit, branch, repository URL), the
 * description (`mlflow.note.content`, from the run's message), plus livestep's run id and tags.
 */
export function runTags(
  run: { id: string; name: string },
  start: StartEvent | undefined,
  sourceName: string | undefined,
  limits: MlflowLimits = MLFLOW_LIMITS,
  onCut?: (cut: Cut) => void,
): MlflowKeyValue[] {
  const tags: Array<[string, string | undefined]> = [
    ['mlflow.runName', run.name],
    ['mlflow.source.type', 'LOCAL'],
    ['mlflow.source.name', sourceName],
    ['mlflow.source.git.commit', start?.git?.sha ?? undefined],
    ['mlflow.source.git.branch', start?.git?.branch ?? undefined],
    ['mlflow.source.git.repoURL', start?.git?.repoUrl ?? undefined],
    [
      'mlflow.source.git.dirty',
      start?.git?.dirty === undefined ? undefined : String(start.git.dirty),
    ],
    ['mlflow.note.content', start?.message],
    ['livestep.run_id', run.id],
    ['livestep.machine.hostname', start?.machine?.hostname],
  ];
  for (const tag of start?.tags ?? []) tags.push([`livestep.tag.${tag}`, 'true']);
  return tags
    .filter((tag): tag is [string, string] => tag[1] !== undefined && tag[1] !== '')
    .map(([key, value]) => tagEntity(key, value, limits, onCut));
}
