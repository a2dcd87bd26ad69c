/**
 * The events of `events.add_batch` as the fake ClearML checks them (backends.md A.5): the body's
 * JSON lines, each event against its type's schema (`metrics_scalar_event`, `metrics_plot_event`,
 * `metrics_image_event`, `task_log_event`, the vector event), and the document ID that makes a
 * re-sent scalar, plot or image overwrite the one before (md5 of task, iter, metric, variant and
 * key joined with "-").
 *
 * Stricter than ClearML on purpose: the server defaults a missing metric or variant to "" and
 * does not check plot_str (validate_plot_str is off); here each is an error for that event and a
 * violation, as are a timestamp in seconds rather than milliseconds, a value that is not a finite
 * number (a bare NaN or Infinity token, a string; what ClearML does with those is not known, A.6;
 * the SDK sends 0), an unknown field, and a plot_str that is not a Plotly figure (JSON with a
 * `data` array). An event without a type, of an unknown type or without a task ID is counted in
 * errors_info as ClearML does, and is a violation too; an unknown (or locked) task's event is
 * only counted (a task can be deleted under a client).
 */
import { createHash } from 'node:crypto';
import { ClearmlAnswer, invalid, isObject } from './fake-clearml-schema.js';

export const EVENT_TYPES: ReadonlySet<string> = new Set([
  'training_stats_scalar',
  'training_stats_vector',
  'training_debug_image',
  'plot',
  'log',
]);

export const LOG_LEVELS: ReadonlySet<string> = new Set([
  'notset',
  'debug',
  'verbose',
  'info',
  'warn',
  'warning',
  'error',
  'fatal',
  'critical',
]);

interface EventBase {
  task: string;
  /** Epoch milliseconds (the server's time when none was sent). */
  timestamp: number;
  model_event?: boolean;
  worker?: string;
}

interface MetricBase extends EventBase {
  iter: number;
  metric: string;
  variant: string;
}

export interface FakeClearmlScalar extends MetricBase {
  type: 'training_stats_scalar';
  value: number;
  x_axis_label?: string;
}

export interface FakeClearmlVector extends MetricBase {
  type: 'training_stats_vector';
  values: number[];
}

export interface FakeClearmlPlot extends MetricBase {
  type: 'plot';
  plot_str: string;
  /** plot_str parsed (a Plotly figure). */
  plot: { data: unknown[]; layout?: unknown; [key: string]: unknown };
  skip_validation?: boolean;
}

export interface FakeClearmlImage extends MetricBase {
  type: 'training_debug_image';
  key: string;
  url: string;
}

export interface FakeClearmlLog extends EventBase {
  type: 'log';
  level: string;
  msg: string;
}

export type FakeClearmlEvent =
  | FakeClearmlScalar
  | FakeClearmlVector
  | FakeClearmlPlot
  | FakeClearmlImage
  | FakeClearmlLog;

/** Stands for a bare NaN / Infinity / -Infinity token, which JSON.parse refuses. */
const NON_FINITE = '\u0000non-finite:';

/**
 * Parses one line as JSON; bare `NaN`, `Infinity` and `-Infinity` tokens (Python's json writes
 * them) are read as marked strings, so that the event check can name them.
 */
export function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    let out = '';
    let inString = false;
    for (let index = 0; index < line.length; index++) {
      const char = line[index]!;
      if (inString) {
        out += char;
        if (char === '\\') out += line[++index] ?? '';
        else if (char === '"') inString = false;
        continue;
      }
      if (char === '"') inString = true;
      const token = /^-?(?:NaN|Infinity)/.exec(line.slice(index))?.[0];
      if (!inString && token !== undefined) {
        out += JSON.stringify(NON_FINITE + token);
        index += token.length - 1;
      } else out += char;
    }
    return JSON.parse(out);
  }
}

/** The body's events: one JSON object per non-blank line (400 otherwise; 400/17 when none). */
export function parseBatch(raw: string): unknown[] {
  const lines = raw.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new ClearmlAnswer(400, 17, 'Batch request contains no items', true);
  return lines.map((line, index) => {
    let event: unknown;
    try {
      event = parseLine(line);
    } catch {
      throw invalid(12, `Line ${index + 1} of the batch is not JSON: ${line.slice(0, 200)}`);
    }
    if (!isObject(event))
      throw invalid(
        12,
        `Line ${index + 1} of the batch is not a JSON object: ${line.slice(0, 200)}`,
      );
    return event;
  });
}

const COMMON = ['task', 'type', 'timestamp', 'model_event', 'allow_locked', 'worker'];
const METRIC = [...COMMON, 'iter', 'metric', 'variant'];
const FIELDS: Record<string, readonly string[]> = {
  training_stats_scalar: [...METRIC, 'value', 'x_axis_label'],
  training_stats_vector: [...METRIC, 'values'],
  training_debug_image: [...METRIC, 'key', 'url'],
  plot: [...METRIC, 'plot_str', 'skip_validation'],
  log: [...COMMON, 'level', 'msg'],
};

const INT64 = 2 ** 63;

function describe(value: unknown): string {
  if (typeof value === 'string' && value.startsWith(NON_FINITE))
    return `a bare ${value.slice(NON_FINITE.length)} token`;
  return JSON.stringify(value);
}

function finite(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value);
}

/** A problem with one event's fields, or undefined; `event` already has a known type. */
function problem(event: Record<string, unknown>, type: string): string | undefined {
  const unknown = Object.keys(event).filter((key) => !FIELDS[type]!.includes(key));
  if (unknown.length > 0) return `unknown field ${unknown.join(', ')}`;
  const { timestamp } = event;
  if (timestamp !== undefined) {
    if (!finite(timestamp)) return `timestamp must be a number, got ${describe(timestamp)}`;
    if ((timestamp as number) < 1e11)
      return `timestamp ${timestamp} looks like seconds: ClearML wants epoch milliseconds`;
  }
  for (const key of ['model_event', 'allow_locked'])
    if (event[key] !== undefined && typeof event[key] !== 'boolean')
      return `${key} must be a boolean, got ${describe(event[key])}`;
  if (event.worker !== undefined && typeof event.worker !== 'string')
    return `worker must be a string, got ${describe(event.worker)}`;
  if (type === 'log') {
    if (typeof event.level !== 'string' || !LOG_LEVELS.has(event.level))
      return `level must be one of ${[...LOG_LEVELS].join(', ')}, got ${describe(event.level)}`;
    if (typeof event.msg !== 'string') return `msg must be a string, got ${describe(event.msg)}`;
    return undefined;
  }
  const { iter } = event;
  if (typeof iter !== 'number' || !Number.isInteger(iter) || Math.abs(iter) >= INT64)
    return `iter must be an integer (int64), got ${describe(iter)}`;
  for (const key of ['metric', 'variant'])
    if (typeof event[key] !== 'string')
      return `${key} must be a string, got ${describe(event[key])}`;
  switch (type) {
    case 'training_stats_scalar':
      if (!finite(event.value))
        return `value must be a finite number, got ${describe(event.value)}`;
      if (event.x_axis_label !== undefined && typeof event.x_axis_label !== 'string')
        return 'x_axis_label must be a string';
      return undefined;
    case 'training_stats_vector':
      if (!Array.isArray(event.values) || !event.values.every(finite))
        return `values must be an array of finite numbers, got ${describe(event.values)}`;
      return undefined;
    case 'training_debug_image':
      for (const key of ['key', 'url'])
        if (typeof event[key] !== 'string')
          return `${key} must be a string, got ${describe(event[key])}`;
      return undefined;
    default:
      return plotProblem(event);
  }
}

function plotProblem(event: Record<string, unknown>): string | undefined {
  if (event.skip_validation !== undefined && typeof event.skip_validation !== 'boolean')
    return 'skip_validation must be a boolean';
  if (typeof event.plot_str !== 'string')
    return `plot_str must be a string (the Plotly figure as JSON), got ${describe(event.plot_str)}`;
  let figure: unknown;
  try {
    figure = JSON.parse(event.plot_str);
  } catch {
    return `plot_str is not JSON (NaN must be null, ±inf the strings "inf"/"-inf"): ${event.plot_str.slice(0, 200)}`;
  }
  if (!isObject(figure) || !Array.isArray(figure.data))
    return 'plot_str must be a Plotly figure: a JSON object with a data array';
  return undefined;
}

export type EventCheck =
  | { event: FakeClearmlEvent }
  /** `error` is the errors_info key; `violation` is set when the event broke its schema. */
  | { error: string; violation?: string };

/**
 * One event of a batch, as the server's add_events takes it (type, then task, then fields);
 * `taskStatus` gives an existing task's status (undefined for an unknown task).
 */
export function checkEvent(
  raw: Record<string, unknown>,
  taskStatus: (id: string) => string | undefined,
  worker: string | undefined,
  now: number,
): EventCheck {
  const event = { ...raw };
  if ('ts' in event && !('timestamp' in event)) {
    event.timestamp = event.ts;
    delete event.ts;
  }
  if (event.type === undefined || event.type === null) {
    const error = "Event must have a 'type' field";
    return { error, violation: error };
  }
  const type = String(event.type).replace(/ /g, '_');
  if (!EVENT_TYPES.has(type)) {
    const error = `Invalid event type ${String(event.type)}`;
    return { error, violation: error };
  }
  event.type = type;
  if (typeof event.task !== 'string')
    return {
      error: `Invalid task id ${String(event.task)}`,
      violation: `task must be a string (the task ID), got ${describe(event.task)}`,
    };
  const status = taskStatus(event.task);
  const locked = status === 'published' || status === 'publishing';
  if (status === undefined || (locked && event.allow_locked !== true))
    return { error: `Invalid task id ${String(event.task)}` };
  const found = problem(event, type);
  if (found !== undefined) return { error: `Invalid event: ${found}`, violation: found };
  event.timestamp ??= now;
  if (worker !== undefined) event.worker ??= worker;
  delete event.allow_locked;
  if (type === 'plot') event.plot = JSON.parse(event.plot_str as string);
  return { event: event as unknown as FakeClearmlEvent };
}

/** The stored document's ID: log events get a fresh one, the others overwrite (A.5). */
export function eventId(event: FakeClearmlEvent, serial: number): string {
  if (event.type === 'log') return `log-${serial}`;
  const parts = [event.task, event.iter, event.metric, event.variant];
  if (event.type === 'training_debug_image') parts.push(event.key);
  return `${event.type}:${createHash('md5').update(parts.map(String).join('-')).digest('hex')}`;
}
