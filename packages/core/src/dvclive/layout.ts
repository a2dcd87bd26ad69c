/**
 * DVCLive's layout: where a run folder keeps each thing and how it is written, shared by
 * everything that writes, posts or reads it (the directory sink writes the files; the Studio sink
 * posts the same paths; the run-folder reader turns them back into events):
 *
 *   <dir>/metrics.json                latest value of every metric, nested by `/`, plus `step`
 *   <dir>/params.yaml                 all params
 *   <dir>/plots/metrics/<name>.tsv    timestamp, step, value: rows appended, never rewritten
 *   <dir>/plots/images/<name>         images
 *   <dir>/plots/sklearn/<name>.json   roc, precision_recall, calibration, confusion_matrix
 *   <dir>/plots/custom/<name>.json    any other plot, as a list of rows
 *
 * Paths here are POSIX and relative to the run folder; callers join them to theirs.
 */
import type { ImageMimeType, MetricValue, PlotEvent, PlotKind } from '../protocol/events.js';

export const METRICS_SUMMARY_FILE = 'metrics.json';
export const PARAMS_FILE = 'params.yaml';
export const METRICS_FOLDER = 'plots/metrics';
export const IMAGES_FOLDER = 'plots/images';
export const SKLEARN_FOLDER = 'plots/sklearn';
export const CUSTOM_PLOTS_FOLDER = 'plots/custom';

/** A series' TSV: `plots/metrics/<series>.tsv`. */
export function metricSeriesPath(series: string): string {
  return `${METRICS_FOLDER}/${series}.tsv`;
}

/** The value column of a series' TSV: the last segment of its name, as DVCLive names it. */
export function metricColumnName(series: string): string {
  return series.slice(series.lastIndexOf('/') + 1);
}

/** The header row of a series' TSV. */
export function metricSeriesHeader(series: string): string {
  return `timestamp\tstep\t${metricColumnName(series)}\n`;
}

/** One TSV row: the timestamp in whole milliseconds, the step, the value (`nan`, `inf`, `-inf` as words). */
export function metricSeriesRow(ts: number, step: number, value: MetricValue): string {
  return `${Math.round(ts)}\t${step}\t${typeof value === 'number' ? String(value) : value}\n`;
}

/**
 * A TSV value cell as a metric value, or undefined for anything that is not one: an empty cell is
 * a torn or hand-edited row, never the number 0. Python's DVCLive writes `nan`, `inf`, `-inf`;
 * `Infinity` spellings are read too.
 */
export function parseMetricCell(cell: string): MetricValue | undefined {
  const trimmed = cell.trim().toLowerCase();
  if (trimmed === 'nan' || trimmed === 'inf' || trimmed === '-inf') return trimmed;
  if (trimmed === 'infinity' || trimmed === '+inf' || trimmed === '+infinity') return 'inf';
  if (trimmed === '-infinity') return '-inf';
  if (trimmed === '') return undefined;
  const number = Number(trimmed);
  return Number.isFinite(number) ? number : undefined;
}

/** The file extension DVCLive gives an image of each type. */
export const IMAGE_EXTENSIONS: Record<ImageMimeType, string> = {
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/gif': '.gif',
};

/** An image file's type from its extension (`.jpeg` too), or undefined for other files. */
export function imageMimeOfFile(fileName: string): ImageMimeType | undefined {
  const dot = fileName.lastIndexOf('.');
  const extension = dot === -1 ? '' : fileName.slice(dot).toLowerCase();
  if (extension === '.jpeg') return 'image/jpeg';
  for (const [mime, known] of Object.entries(IMAGE_EXTENSIONS)) {
    if (known === extension) return mime as ImageMimeType;
  }
  return undefined;
}

/** What dvc.yaml (and Studio's plot `props`) says about a plot. */
export interface DvcPlotProperties {
  template?: string;
  x?: string;
  y?: string;
  title?: string;
  x_label?: string;
  y_label?: string;
}

export type SklearnKind = 'roc' | 'precision_recall' | 'calibration' | 'confusion_matrix';

/** DVCLive's sklearn plots: the key of their file and the properties DVC's templates expect. */
const SKLEARN_PLOTS: Partial<
  Record<PlotEvent['plotKind'], { kind: SklearnKind; properties: DvcPlotProperties }>
> = {
  roc: {
    kind: 'roc',
    properties: {
      template: 'simple',
      x: 'fpr',
      y: 'tpr',
      title: 'Receiver operating characteristic (ROC)',
      x_label: 'False Positive Rate',
      y_label: 'True Positive Rate',
    },
  },
  pr: {
    kind: 'precision_recall',
    properties: {
      template: 'simple',
      x: 'recall',
      y: 'precision',
      title: 'Precision-Recall Curve',
      x_label: 'Recall',
      y_label: 'Precision',
    },
  },
  calibration: {
    kind: 'calibration',
    properties: {
      template: 'simple',
      x: 'prob_pred',
      y: 'prob_true',
      title: 'Calibration Curve',
      x_label: 'Mean Predicted Probability',
      y_label: 'Fraction of Positives',
    },
  },
  confusion: {
    kind: 'confusion_matrix',
    properties: {
      template: 'confusion',
      x: 'actual',
      y: 'predicted',
      title: 'Confusion Matrix',
      x_label: 'True Label',
      y_label: 'Predicted Label',
    },
  },
};

/**
 * The protocol's plot kind of a sklearn plot file, from the key DVCLive files its rows under
 * (`{"roc": [...]}`); a confusion matrix file is a bare list of samples instead.
 */
export function plotKindOfSklearnKey(key: string): PlotKind | undefined {
  for (const [plotKind, plot] of Object.entries(SKLEARN_PLOTS)) {
    if (plot.kind === key && plot.kind !== 'confusion_matrix') return plotKind as PlotKind;
  }
  return undefined;
}

/** DVC templates for the plot kinds that are not sklearn plots. */
const CUSTOM_TEMPLATES: Partial<Record<PlotEvent['plotKind'], string>> = {
  line: 'linear',
  scatter: 'scatter',
  bar: 'bar_horizontal',
};

/** Makes a label (`key=value`) safe as one path segment. */
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

/** A confusion matrix as DVCLive stores it: one {actual, predicted} row per sample. */
export function confusionSamples(
  rows: PlotEvent['rows'],
): Array<{ actual: string; predicted: string }> {
  const samples: Array<{ actual: string; predicted: string }> = [];
  for (const row of rows) {
    const count = typeof row.count === 'number' ? row.count : 1;
    const sample = { actual: String(row.actual), predicted: String(row.predicted) };
    for (let index = 0; index < count; index++) samples.push(sample);
  }
  return samples;
}

export interface DvclivePlotFile {
  /** `plots/sklearn/<name>.json` or `plots/custom/<name>.json`, relative to the run folder. */
  path: string;
  /** The file's content, as DVCLive writes it (`{"roc": [...]}`, a list of samples, a list of rows). */
  content: unknown;
  /** The rows inside that content: the list Studio's plot `data` carries. */
  rows: Array<Record<string, unknown>>;
  properties: DvcPlotProperties;
}

/** Where DVCLive files a plot, what the file holds, and its dvc.yaml properties. */
export function dvclivePlotFile(event: PlotEvent): DvclivePlotFile {
  const fileName = event.name.endsWith('.json') ? event.name : `${event.name}.json`;
  const explicit: DvcPlotProperties = {};
  if (event.x !== undefined) explicit.x = event.x;
  if (event.y !== undefined) explicit.y = event.y;
  if (event.title !== undefined) explicit.title = event.title;
  if (event.xLabel !== undefined) explicit.x_label = event.xLabel;
  if (event.yLabel !== undefined) explicit.y_label = event.yLabel;
  const sklearn = SKLEARN_PLOTS[event.plotKind];
  if (sklearn !== undefined) {
    const rows = sklearn.kind === 'confusion_matrix' ? confusionSamples(event.rows) : event.rows;
    return {
      path: `${SKLEARN_FOLDER}/${fileName}`,
      content: sklearn.kind === 'confusion_matrix' ? rows : { [sklearn.kind]: rows },
      rows,
      properties: { ...sklearn.properties, ...explicit },
    };
  }
  const template = CUSTOM_TEMPLATES[event.plotKind];
  return {
    path: `${CUSTOM_PLOTS_FOLDER}/${fileName}`,
    content: event.rows,
    rows: event.rows,
    properties: { ...(template !== undefined && { template }), ...explicit },
  };
}

/**
 * The summary as metrics.json holds it: `a/b/c` nested as {"a": {"b": {"c": v}}}, then `step`. A
 * name that is also a folder of other names keeps the folder.
 */
export function nestMetrics(
  values: Iterable<[string, MetricValue]>,
  step?: number,
): Record<string, unknown> {
  // No prototype anywhere: a name's segments become keys, and none may reach Object.prototype.
  const nested: Record<string, unknown> = Object.create(null);
  for (const [name, value] of values) {
    const segments = name.split('/');
    let cursor = nested;
    for (const segment of segments.slice(0, -1)) {
      const child = cursor[segment];
      if (typeof child === 'object' && child !== null) cursor = child as Record<string, unknown>;
      else {
        const created: Record<string, unknown> = Object.create(null);
        cursor[segment] = created;
        cursor = created;
      }
    }
    const last = segments.at(-1)!;
    if (typeof cursor[last] !== 'object' || cursor[last] === null) cursor[last] = value;
  }
  if (step !== undefined) nested.step = step;
  return nested;
}
