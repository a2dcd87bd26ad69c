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
import {
  type DvcPlotProperties,
  dvclivePlotFile,
  metricSeriesName,
  nestMetrics,
} from '../dvclive-layout.js';
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

function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 4)}\n`;
}

function formatValue(value: MetricValue): string {
  return typeof value === 'number' ? String(value) : value;
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
  /** Plot files written so far, with their dvc.yaml properties. */
  const plotFiles = new Map<string, DvcPlotProperties>();
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
          const series = metricSeriesName(event.name, event.labels);
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
        data: toJson(nestMetrics(latestValues, latestStep)),
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
    const file = dvclivePlotFile(event);
    const path = join(directory, ...file.path.split('/'));
    operations.push({ type: 'write', path, data: toJson(file.content) });
    const isNew = !plotFiles.has(path);
    plotFiles.set(path, file.properties);
    return isNew;
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
    for (const [path, props] of plotFiles) {
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
