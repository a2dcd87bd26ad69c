/**
 * The paths DVC Studio files a live experiment's data under. They mirror, file for file, what
 * `createDirectorySink` of @livestep/core writes (DVCLive's layout), so the live view and the
 * committed files are the same plots:
 *
 *   <dir>/params.yaml                 params
 *   <dir>/metrics.json                the summary (latest values)
 *   <dir>/plots/metrics/<name>.tsv    one series per metric (labels add `key=value` segments)
 *   <dir>/plots/images/<name>         images
 *   <dir>/plots/sklearn/<name>.json   roc, precision_recall, calibration, confusion_matrix
 *   <dir>/plots/custom/<name>.json    any other plot
 *
 * `<dir>` is the run folder relative to the DVC root, POSIX.
 */
import type { PlotEvent } from '@livestep/core';

/** What a plot entry's `props` may carry: the same fields dvc.yaml gives the plot. */
export interface PlotProperties {
  template?: string;
  x?: string;
  y?: string;
  title?: string;
  x_label?: string;
  y_label?: string;
}

/** DVCLive's defaults for its sklearn plots (the names and labels DVC's templates expect). */
const SKLEARN_PLOTS: Record<string, PlotProperties> = {
  roc: {
    template: 'simple',
    x: 'fpr',
    y: 'tpr',
    title: 'Receiver operating characteristic (ROC)',
    x_label: 'False Positive Rate',
    y_label: 'True Positive Rate',
  },
  pr: {
    template: 'simple',
    x: 'recall',
    y: 'precision',
    title: 'Precision-Recall Curve',
    x_label: 'Recall',
    y_label: 'Precision',
  },
  calibration: {
    template: 'simple',
    x: 'prob_pred',
    y: 'prob_true',
    title: 'Calibration Curve',
    x_label: 'Mean Predicted Probability',
    y_label: 'Fraction of Positives',
  },
  confusion: {
    template: 'confusion',
    x: 'actual',
    y: 'predicted',
    title: 'Confusion Matrix',
    x_label: 'True Label',
    y_label: 'Predicted Label',
  },
};

/** DVC templates for the plot kinds that are not sklearn plots. */
const CUSTOM_TEMPLATES: Partial<Record<PlotEvent['plotKind'], string>> = {
  line: 'linear',
  scatter: 'scatter',
  bar: 'bar_horizontal',
};

/** Joins POSIX path parts, skipping empty ones (a run folder that is the DVC root itself). */
export function joinPosix(...parts: string[]): string {
  return parts.filter((part) => part !== '').join('/');
}

/** Makes a label value safe as one path segment (as the directory sink does). */
function safeSegment(value: string): string {
  const cleaned = value.replace(/[\u0000-\u001f\u007f\\/:*?"<>|]/g, '_').trim();
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? '_' : cleaned;
}

/** A metric's series: its name, plus one `key=value` segment per label, keys sorted. */
export function metricSeriesName(name: string, labels?: Record<string, string>): string {
  if (labels === undefined) return name;
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  return `${name}/${keys.map((key) => safeSegment(`${key}=${labels[key]}`)).join('/')}`;
}

/** The value column of a series' TSV: the last segment of its name. */
export function metricColumnName(series: string): string {
  return series.slice(series.lastIndexOf('/') + 1);
}

export function paramsPath(directory: string): string {
  return joinPosix(directory, 'params.yaml');
}

export function metricsSummaryPath(directory: string): string {
  return joinPosix(directory, 'metrics.json');
}

export function metricPlotPath(directory: string, series: string): string {
  return joinPosix(directory, 'plots', 'metrics', `${series}.tsv`);
}

export function imagePath(directory: string, name: string): string {
  return joinPosix(directory, 'plots', 'images', name);
}

function jsonFileName(name: string): string {
  return name.endsWith('.json') ? name : `${name}.json`;
}

export interface DataPlot {
  path: string;
  rows: Array<Record<string, unknown>>;
  properties: PlotProperties;
}

/**
 * A plot event as Studio's plot entry: its path (sklearn or custom, as the directory sink files
 * it), its rows and its props. A plot entry's `data` is a list of rows, so DVCLive's sklearn
 * file shapes (`{"roc": [...]}`) are sent as the list inside; a confusion matrix is one
 * `{actual, predicted}` row per sample, as DVCLive stores it.
 */
export function toDataPlot(directory: string, event: PlotEvent): DataPlot {
  const explicit: PlotProperties = {};
  if (event.x !== undefined) explicit.x = event.x;
  if (event.y !== undefined) explicit.y = event.y;
  if (event.title !== undefined) explicit.title = event.title;
  if (event.xLabel !== undefined) explicit.x_label = event.xLabel;
  if (event.yLabel !== undefined) explicit.y_label = event.yLabel;
  const fileName = jsonFileName(event.name);
  const sklearn = SKLEARN_PLOTS[event.plotKind];
  if (sklearn !== undefined) {
    const rows = event.plotKind === 'confusion' ? confusionSamples(event.rows) : event.rows;
    return {
      path: joinPosix(directory, 'plots', 'sklearn', fileName),
      rows,
      properties: { ...sklearn, ...explicit },
    };
  }
  const template = CUSTOM_TEMPLATES[event.plotKind];
  return {
    path: joinPosix(directory, 'plots', 'custom', fileName),
    rows: event.rows,
    properties: { ...(template !== undefined && { template }), ...explicit },
  };
}

function confusionSamples(rows: PlotEvent['rows']): Array<{ actual: string; predicted: string }> {
  const samples: Array<{ actual: string; predicted: string }> = [];
  for (const row of rows) {
    const count = typeof row.count === 'number' ? row.count : 1;
    const sample = { actual: String(row.actual), predicted: String(row.predicted) };
    for (let index = 0; index < count; index++) samples.push(sample);
  }
  return samples;
}
