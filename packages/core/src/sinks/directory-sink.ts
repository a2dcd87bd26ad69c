/**
 * The directory sink writes a run in DVCLive's layout, so `dvc plots show`, `dvc metrics show`,
 * `dvc exp show` and DVC Studio read it as if DVCLive had written it:
 *
 *   <dir>/metrics.json                latest value of every metric, nested by `/`, plus `step`
 *   <dir>/params.yaml                 all params
 *   <dir>/plots/metrics/<name>.tsv    timestamp, step, value: rows appended, never rewritten
 *   <dir>/plots/images/<name>         images
 *   <dir>/plots/sklearn/<name>.json   roc, precision_recall, calibration, confusion_matrix
 *   <dir>/plots/custom/<name>.json    any other plot, as a list of rows
 *   dvc.yaml (beside <dir>)           metrics, params, plots and artifacts entries
 *
 * Unlike DVCLive it appends TSV rows without re-reading them and rewrites the summary once per
 * batch, not once per step, so a long run costs the same per point as a short one.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import YAML from 'yaml';
import { mergeParams } from '../params.js';
import type { Batch, MetricValue, PlotEvent, RunEvent } from '../protocol.js';
import type { Sink } from '../sink.js';
import { readSavedRun } from './saved-run.js';

export interface DirectorySinkOptions {
  /** The run's folder (default `livestep`, relative to the working directory). */
  directory?: string;
  /**
   * The dvc.yaml to keep up to date: a path, or false for none. Default: `dvc.yaml` in the folder
   * that holds `directory`, as DVCLive does. Its other entries are kept.
   */
  dvcYaml?: string | false;
  /** Keep what the folder holds and append to it (DVCLive's resume). Default false: start clean. */
  resume?: boolean;
}

type SklearnKind = 'roc' | 'precision_recall' | 'calibration' | 'confusion_matrix';

interface PlotTemplate {
  template?: string;
  x?: string;
  y?: string;
  title?: string;
  x_label?: string;
  y_label?: string;
}

/** DVCLive's defaults for its sklearn plots (the names and labels DVC's templates expect). */
const SKLEARN_PLOTS: Record<
  'roc' | 'pr' | 'calibration' | 'confusion',
  { kind: SklearnKind; props: PlotTemplate }
> = {
  roc: {
    kind: 'roc',
    props: {
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
    props: {
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
    props: {
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
    props: {
      template: 'confusion',
      x: 'actual',
      y: 'predicted',
      title: 'Confusion Matrix',
      x_label: 'True Label',
      y_label: 'Predicted Label',
    },
  },
};

/** DVC templates for the plot kinds that are not sklearn plots. */
const CUSTOM_TEMPLATES: Partial<Record<PlotEvent['plotKind'], string>> = {
  line: 'linear',
  scatter: 'scatter',
  bar: 'bar_horizontal',
};

/** What a new (not resumed) run removes first, as DVCLive does. */
const RESET_PATHS = [
  'plots/metrics',
  'plots/images',
  'plots/custom',
  'plots/sklearn',
  'metrics.json',
  'params.yaml',
  'report.html',
  'report.md',
];

type WriteOperation =
  | { type: 'reset' }
  | { type: 'append'; path: string; data: string }
  | { type: 'write'; path: string; data: string | Buffer }
  | { type: 'dvc-yaml' };

/** Makes a label value safe as one path segment. */
function safeSegment(value: string): string {
  const cleaned = value.replace(/[\u0000-\u001f\u007f\\/:*?"<>|]/g, '_').trim();
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? '_' : cleaned;
}

function seriesName(name: string, labels: Record<string, string> | undefined): string {
  if (labels === undefined) return name;
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  return `${name}/${keys.map((key) => safeSegment(`${key}=${labels[key]}`)).join('/')}`;
}

function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 4)}\n`;
}

function formatValue(value: MetricValue): string {
  return typeof value === 'number' ? String(value) : value;
}

/** Sets `a/b/c` in a nested object; a name that is also a folder of other names keeps the folder. */
function setNested(target: Record<string, unknown>, name: string, value: MetricValue): void {
  const segments = name.split('/');
  let cursor = target;
  for (const segment of segments.slice(0, -1)) {
    const child = cursor[segment];
    if (typeof child === 'object' && child !== null) cursor = child as Record<string, unknown>;
    else {
      const created: Record<string, unknown> = {};
      cursor[segment] = created;
      cursor = created;
    }
  }
  const last = segments.at(-1)!;
  if (typeof cursor[last] !== 'object' || cursor[last] === null) cursor[last] = value;
}

export function createDirectorySink(options: DirectorySinkOptions = {}): Sink {
  const directory = resolve(options.directory ?? 'livestep');
  const dvcYamlPath =
    options.dvcYaml === false
      ? undefined
      : resolve(options.dvcYaml ?? join(dirname(directory), 'dvc.yaml'));
  const dvcYamlDirectory = dvcYamlPath === undefined ? directory : dirname(dvcYamlPath);
  /** Paths as dvc.yaml writes them: POSIX, relative to dvc.yaml's folder. */
  const forDvcYaml = (path: string) => relative(dvcYamlDirectory, path).split(sep).join('/');

  // A resumed run keeps what the folder holds: its summary, step and params.
  const saved = options.resume ? readSavedRun(directory) : undefined;
  const latestValues = new Map<string, MetricValue>(saved?.latestValues);
  let latestStep: number | undefined = saved?.step;
  const params: Record<string, unknown> = saved?.params ?? {};
  const startedSeries = new Set<string>();
  const sklearnPlots = new Map<string, PlotTemplate>();
  const customPlots = new Map<string, PlotTemplate>();
  const artifacts = new Map<string, { path: string; type: string }>();
  let hasMetrics = latestValues.size > 0;
  let hasImages = false;
  let hasParams = Object.keys(params).length > 0;
  let resetDone = options.resume === true;

  function plan(batch: Batch): WriteOperation[] {
    const operations: WriteOperation[] = [];
    const appends = new Map<string, string[]>();
    let summaryChanged = false;
    let paramsChanged = false;
    let dvcYamlChanged = false;

    const handle = (event: RunEvent) => {
      switch (event.kind) {
        case 'start':
          if (!resetDone) {
            operations.push({ type: 'reset' });
            resetDone = true;
          }
          dvcYamlChanged = true;
          break;
        case 'params':
          mergeParams(params, event.params);
          hasParams = true;
          paramsChanged = true;
          break;
        case 'metric': {
          const series = seriesName(event.name, event.labels);
          const path = join(directory, 'plots', 'metrics', `${series}.tsv`);
          let rows = appends.get(path);
          if (rows === undefined) {
            rows = [];
            appends.set(path, rows);
            if (!startedSeries.has(path)) {
              startedSeries.add(path);
              // A resumed run appends to an existing file, whose header is already there.
              if (!options.resume || !existsSync(path)) {
                rows.push(`timestamp\tstep\t${basename(series)}\n`);
              }
            }
          }
          rows.push(`${Math.round(event.ts)}\t${event.step}\t${formatValue(event.value)}\n`);
          latestValues.set(series, event.value);
          if (latestStep === undefined || event.step > latestStep) latestStep = event.step;
          summaryChanged = true;
          if (!hasMetrics) {
            hasMetrics = true;
            dvcYamlChanged = true;
          }
          break;
        }
        case 'plot':
          dvcYamlChanged = planPlot(event, operations) || dvcYamlChanged;
          break;
        case 'image':
          if (event.bytes !== undefined) {
            operations.push({
              type: 'write',
              path: join(directory, 'plots', 'images', event.name),
              data: Buffer.from(event.bytes, 'base64'),
            });
            if (!hasImages) {
              hasImages = true;
              dvcYamlChanged = true;
            }
          }
          break;
        case 'artifact': {
          const path = isAbsolute(event.path) ? event.path : resolve(event.path);
          artifacts.set(event.name, { path: forDvcYaml(path), type: event.type });
          dvcYamlChanged = true;
          break;
        }
        case 'done':
          summaryChanged = true;
          break;
        case 'annotation':
          // DVCLive's layout has no place for notes; the JSONL sink and the server keep them.
          break;
      }
    };
    for (const event of batch.events) handle(event);

    for (const [path, rows] of appends)
      operations.push({ type: 'append', path, data: rows.join('') });
    if (summaryChanged && hasMetrics) {
      operations.push({
        type: 'write',
        path: join(directory, 'metrics.json'),
        data: toJson(summary()),
      });
    }
    if (paramsChanged) {
      operations.push({
        type: 'write',
        path: join(directory, 'params.yaml'),
        data: YAML.stringify(params),
      });
    }
    if (dvcYamlChanged && dvcYamlPath !== undefined) operations.push({ type: 'dvc-yaml' });
    return operations;
  }

  /** Returns true when the plot is new to dvc.yaml. */
  function planPlot(event: PlotEvent, operations: WriteOperation[]): boolean {
    const fileName = event.name.endsWith('.json') ? event.name : `${event.name}.json`;
    const explicit: PlotTemplate = {};
    if (event.x !== undefined) explicit.x = event.x;
    if (event.y !== undefined) explicit.y = event.y;
    if (event.title !== undefined) explicit.title = event.title;
    if (event.xLabel !== undefined) explicit.x_label = event.xLabel;
    if (event.yLabel !== undefined) explicit.y_label = event.yLabel;

    if (event.plotKind in SKLEARN_PLOTS) {
      const sklearn = SKLEARN_PLOTS[event.plotKind as keyof typeof SKLEARN_PLOTS];
      const path = join(directory, 'plots', 'sklearn', fileName);
      operations.push({ type: 'write', path, data: toJson(sklearnFile(sklearn.kind, event.rows)) });
      const isNew = !sklearnPlots.has(path);
      sklearnPlots.set(path, { ...sklearn.props, ...explicit });
      return isNew;
    }
    const path = join(directory, 'plots', 'custom', fileName);
    operations.push({ type: 'write', path, data: toJson(event.rows) });
    const template = CUSTOM_TEMPLATES[event.plotKind];
    const isNew = !customPlots.has(path);
    customPlots.set(path, { ...(template !== undefined && { template }), ...explicit });
    return isNew;
  }

  function sklearnFile(kind: SklearnKind, rows: PlotEvent['rows']): unknown {
    if (kind !== 'confusion_matrix') return { [kind]: rows };
    // DVCLive stores one {actual, predicted} row per sample; our rows carry counts.
    const samples: Array<{ actual: string; predicted: string }> = [];
    for (const row of rows) {
      const count = typeof row.count === 'number' ? row.count : 1;
      const sample = { actual: String(row.actual), predicted: String(row.predicted) };
      for (let index = 0; index < count; index++) samples.push(sample);
    }
    return samples;
  }

  function summary(): Record<string, unknown> {
    const nested: Record<string, unknown> = {};
    for (const [name, value] of latestValues) setNested(nested, name, value);
    if (latestStep !== undefined) nested.step = latestStep;
    return nested;
  }

  /** Our dvc.yaml entries merged into whatever the file holds; stale entries for our folder replaced. */
  function mergeDvcYaml(existingText: string | undefined): string {
    const document = existingText ? (YAML.parse(existingText) ?? {}) : {};
    const prefix = `${forDvcYaml(directory)}/`;
    const pathOf = (entry: unknown) =>
      typeof entry === 'string' ? entry : Object.keys(entry ?? {})[0];
    const ours = (entry: unknown) => {
      const path = pathOf(entry);
      return typeof path === 'string' && (path === prefix.slice(0, -1) || path.startsWith(prefix));
    };

    const ourPlots: unknown[] = [];
    if (hasMetrics)
      ourPlots.push({ [forDvcYaml(join(directory, 'plots', 'metrics'))]: { x: 'step' } });
    if (hasImages) ourPlots.push(forDvcYaml(join(directory, 'plots', 'images')));
    for (const [path, props] of [...sklearnPlots, ...customPlots]) {
      ourPlots.push(
        Object.keys(props).length > 0 ? { [forDvcYaml(path)]: props } : forDvcYaml(path),
      );
    }
    // A new run replaces every entry for its folder; a resumed run keeps the ones it does not rewrite.
    const rewritten = new Set(ourPlots.map(pathOf));
    const keep = (list: unknown) =>
      Array.isArray(list)
        ? list.filter(
            (entry) => !ours(entry) || (options.resume === true && !rewritten.has(pathOf(entry))),
          )
        : [];

    const metrics = keep(document.metrics).filter((entry) => !ours(entry));
    if (hasMetrics) metrics.push(forDvcYaml(join(directory, 'metrics.json')));
    const paramsList = keep(document.params).filter((entry) => !ours(entry));
    if (hasParams) paramsList.push(forDvcYaml(join(directory, 'params.yaml')));
    const plots = [...keep(document.plots), ...ourPlots];

    const result: Record<string, unknown> = {};
    const set = (key: string, value: unknown[] | Record<string, unknown>) => {
      const empty = Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0;
      if (!empty) result[key] = value;
    };
    set('metrics', metrics);
    set('params', paramsList);
    set('plots', plots);
    const artifactEntries: Record<string, unknown> = { ...(document.artifacts ?? {}) };
    for (const [name, artifact] of artifacts) artifactEntries[name] = artifact;
    set('artifacts', artifactEntries);
    for (const [key, value] of Object.entries(document)) {
      if (!(key in result) && !['metrics', 'params', 'plots', 'artifacts'].includes(key)) {
        result[key] = value;
      }
    }
    return YAML.stringify(result);
  }

  const ensuredFolders = new Set<string>();

  async function apply(operations: WriteOperation[]): Promise<void> {
    for (const operation of operations) {
      switch (operation.type) {
        case 'reset':
          await Promise.all(
            RESET_PATHS.map((path) => rm(join(directory, path), { recursive: true, force: true })),
          );
          ensuredFolders.clear();
          await mkdir(directory, { recursive: true });
          break;
        case 'append':
        case 'write': {
          const folder = dirname(operation.path);
          if (!ensuredFolders.has(folder)) {
            await mkdir(folder, { recursive: true });
            ensuredFolders.add(folder);
          }
          if (operation.type === 'append') await appendFile(operation.path, operation.data);
          else await writeFile(operation.path, operation.data);
          break;
        }
        case 'dvc-yaml': {
          const existing = await readFile(dvcYamlPath!, 'utf8').catch(() => undefined);
          await mkdir(dirname(dvcYamlPath!), { recursive: true });
          await writeFile(dvcYamlPath!, mergeDvcYaml(existing));
          break;
        }
      }
    }
  }

  function applySync(operations: WriteOperation[]): void {
    for (const operation of operations) {
      switch (operation.type) {
        case 'reset':
          for (const path of RESET_PATHS)
            rmSync(join(directory, path), { recursive: true, force: true });
          mkdirSync(directory, { recursive: true });
          break;
        case 'append':
        case 'write':
          mkdirSync(dirname(operation.path), { recursive: true });
          if (operation.type === 'append') appendFileSync(operation.path, operation.data);
          else writeFileSync(operation.path, operation.data);
          break;
        case 'dvc-yaml': {
          let existing: string | undefined;
          try {
            existing = readFileSync(dvcYamlPath!, 'utf8');
          } catch {
            existing = undefined;
          }
          writeFileSync(dvcYamlPath!, mergeDvcYaml(existing));
          break;
        }
      }
    }
  }

  return {
    name: `directory:${directory}`,
    send: (batch) => apply(plan(batch)),
    sendSync: (batch) => applySync(plan(batch)),
  };
}
