/**
 * livestep events as ClearML's (backends.md A.5, A.8), by these rules (the README's table says the
 * same):
 *
 * - A metric name splits at its last `/` into ClearML's metric (the chart) and variant (the line):
 *   `train/loss` → metric `train`, variant `loss`; `eval/class/f1` → `eval/class`, `f1`. A name
 *   without `/` is both: `loss` → `loss`, `loss`. Labels make the series a variant of the whole
 *   name: `f1` with {class: setosa} → metric `f1`, variant `class=setosa`. `iter` is the step,
 *   `timestamp` the point's time in ms.
 * - ClearML stores scalars as finite floats (its SDK sends 0 for NaN and ±inf, A.6, which makes a
 *   diverged loss look like a perfect one). livestep never sends a made-up 0: by default such a
 *   point is left out of ClearML (warned once per metric, counted, the run folder keeps it); the
 *   `nonFiniteValue` option sends a substitute of the user's choosing instead.
 * - Params go into the task's hyperparams, section `General` (where the SDK puts a connected dict),
 *   nested names joined with `/`, values as text with the SDK's type names.
 * - Annotations become `log` events (debug, info, warning, error), the step in front of the text.
 */
import type { AnnotationEvent, MetricEvent, PlotEvent } from '../../protocol/events.js';
import { flattenParams } from '../mlflow/mlflow-entities.js';
import { plotlyFigure } from './clearml-plots.js';

export interface ClearmlSeries {
  metric: string;
  variant: string;
}

/** The section params go into (the SDK's for a connected dict). */
export const HYPERPARAMS_SECTION = 'General';

/** ClearML's metric and variant for a livestep name (see the top of this file). */
export function clearmlSeries(
  name: string,
  labels?: Readonly<Record<string, string>>,
): ClearmlSeries {
  const entries = labels === undefined ? [] : Object.entries(labels);
  if (entries.length > 0) {
    const variant = entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    return { metric: name, variant };
  }
  const cut = name.lastIndexOf('/');
  if (cut < 0) return { metric: name, variant: name };
  return { metric: name.slice(0, cut), variant: name.slice(cut + 1) };
}

/** A ClearML event without its `task` (added when the task exists). */
export type ClearmlEventBody = Record<string, unknown>;

/** The value as a finite number; undefined for NaN and ±inf in any of their forms. */
export function finiteValue(value: MetricEvent['value']): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function scalarEvent(event: MetricEvent, value: number): ClearmlEventBody {
  const { metric, variant } = clearmlSeries(event.name, event.labels);
  return {
    type: 'training_stats_scalar',
    timestamp: Math.round(event.ts),
    iter: event.step,
    metric,
    variant,
    value,
    model_event: false,
  };
}

export function plotEvent(event: PlotEvent, fallbackStep: number): ClearmlEventBody {
  const { metric, variant } = clearmlSeries(event.name);
  return {
    type: 'plot',
    timestamp: Math.round(event.ts),
    iter: event.step ?? fallbackStep,
    metric,
    variant,
    plot_str: JSON.stringify(plotlyFigure(event)),
    model_event: false,
  };
}

/** livestep's annotation levels are all in ClearML's log levels (A.5). */
export function logEvent(event: AnnotationEvent, worker: string): ClearmlEventBody {
  const step = event.step === undefined ? '' : `[step ${event.step}] `;
  return {
    type: 'log',
    timestamp: Math.round(event.ts),
    level: event.level,
    worker,
    msg: `${step}${event.text}`,
  };
}

export function errorLogEvent(ts: number, text: string, worker: string): ClearmlEventBody {
  return { type: 'log', timestamp: Math.round(ts), level: 'error', worker, msg: text };
}

export interface ClearmlHyperparam {
  section: string;
  name: string;
  value: string;
  type: string;
}

/** Python's type name for a value, as the SDK records it beside a hyperparam. */
function pythonTypeName(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (value === null || value === undefined) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  return 'dict';
}

function valueAt(params: Record<string, unknown>, path: string[]): unknown {
  let value: unknown = params;
  for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key];
  return value;
}

/** A params event's values as hyperparams of section General (nested names joined with `/`). */
export function hyperparams(params: Record<string, unknown>): ClearmlHyperparam[] {
  return flattenParams(params, '', '\u0000').map(([path, value]) => {
    const keys = path.split('\u0000');
    return {
      section: HYPERPARAMS_SECTION,
      name: keys.join('/'),
      value,
      type: pythonTypeName(valueAt(params, keys)),
    };
  });
}
