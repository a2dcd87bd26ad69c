/**
 * Reads a run folder in DVCLive's layout (written by livestep's directory sink, or by DVCLive
 * itself) back into protocol v1 events, so a run recorded with no network can be uploaded later.
 *
 * A folder livestep wrote has `livestep.json`: the run's id, experiment, name, status (and error)
 * and the labels of each labelled series. The run is then sent as it was, and event ids derive
 * from its id and the row: syncing it twice stores nothing twice, and a new run in the same
 * folder (a new id) is a new run. A folder without one (DVCLive's) takes its identity from the
 * folder's path and names, and is sent as completed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';
import YAML from 'yaml';
import type {
  DoneEvent,
  MetricEvent,
  MetricValue,
  RunEvent,
  RunIdentity,
} from '../protocol/events.js';
import { deterministicUuid } from '../run/event-id.js';
import { isProcessRunning, LOCK_FILE_NAME } from '../sinks/folder-lock.js';
import {
  CUSTOM_PLOTS_FOLDER,
  IMAGES_FOLDER,
  imageMimeOfFile,
  METRICS_FOLDER,
  METRICS_SUMMARY_FILE,
  PARAMS_FILE,
  parseMetricCell,
  plotKindOfSklearnKey,
  SKLEARN_FOLDER,
} from './layout.js';
import { readRunIdentity } from './run-identity.js';

export interface RecordedRun {
  run: RunIdentity;
  events: RunEvent[];
  /** The run folder it was read from, when it was read from one (Studio paths follow it). */
  folder?: string;
}

/** True when the folder looks like a DVCLive run folder. */
export function isDvcliveFolder(folder: string): boolean {
  return [METRICS_SUMMARY_FILE, PARAMS_FILE, 'plots'].some((entry) =>
    existsSync(join(folder, entry)),
  );
}

/** A folder of the layout (`plots/metrics`) under a run folder, as a native path. */
const under = (root: string, folder: string) => join(root, ...folder.split('/'));

function filesUnder(folder: string): string[] {
  if (!existsSync(folder)) return [];
  const files: string[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(folder);
  return files;
}

const posix = (path: string) => path.split(sep).join('/');

export interface ReadOptions {
  /** The experiment to record the run under (default: the name of the folder holding the run). */
  experiment?: string;
  /** The run's name (default: the run folder's name). */
  name?: string;
  /** Where notes about the input go (a cut-off last line); default: nowhere. */
  onWarning?: (message: string) => void;
}

/** Reads a run folder in DVCLive's layout back into the events that recorded it. */
export function readDvcliveFolder(folder: string, options: ReadOptions = {}): RecordedRun {
  const root = resolve(folder);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new Error(`livestep: ${folder} is not a folder`);
  }
  const recorded = readRunIdentity(root);
  const runId = recorded?.run.id ?? deterministicUuid(`livestep-run:${root}`);
  const run: RunIdentity = {
    id: runId,
    experiment: options.experiment ?? recorded?.run.experiment ?? basename(resolve(root, '..')),
    name: options.name ?? recorded?.run.name ?? basename(root),
  };
  const eventId = (key: string) => deterministicUuid(`${runId}:${key}`);
  /** Events after start, before done; seq is assigned at the end. */
  const body: RunEvent[] = [];
  let firstTimestamp = Number.POSITIVE_INFINITY;
  let lastTimestamp = 0;

  const paramsFile = join(root, PARAMS_FILE);
  if (existsSync(paramsFile)) {
    const params = YAML.parse(readFileSync(paramsFile, 'utf8')) ?? {};
    body.push({
      id: eventId('params'),
      seq: 0,
      ts: statSync(paramsFile).mtimeMs,
      kind: 'params',
      params,
    });
  }

  const metricsFolder = under(root, METRICS_FOLDER);
  const metricRows: Array<{ event: RunEvent; order: number }> = [];
  let order = 0;
  for (const file of filesUnder(metricsFolder).filter((path) => path.endsWith('.tsv'))) {
    const series = posix(relative(metricsFolder, file)).replace(/\.tsv$/, '');
    // A labelled series' file is `<metric>/<key=value>...`: the record says which.
    const labelled = recorded?.series[series];
    const name = labelled?.name ?? series;
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    // Text after the last newline is a row a killed writer never finished: not data.
    const unfinished = lines.pop() ?? '';
    if (unfinished.trim() !== '') {
      options.onWarning?.(
        `livestep: the last row of ${file} was cut off (its writer was killed); syncing the rows before it`,
      );
    }
    const header = lines[0]?.split('\t') ?? [];
    const timestampColumn = header.indexOf('timestamp');
    const stepColumn = header.indexOf('step');
    const valueColumn = header.findIndex((column) => column !== 'timestamp' && column !== 'step');
    if (stepColumn === -1 || valueColumn === -1) {
      throw new SyntaxError(
        `livestep: ${file} has no step and value columns (header: ${lines[0]})`,
      );
    }
    lines.slice(1).forEach((line, index) => {
      if (line.trim() === '') return;
      const cells = line.split('\t');
      const where = `livestep: ${file} row ${index + 2}`;
      if (cells.length !== header.length) {
        throw new SyntaxError(`${where} has ${cells.length} cells, the header ${header.length}`);
      }
      const step = Number(cells[stepColumn]);
      if (!Number.isInteger(step) || step < 0 || cells[stepColumn]!.trim() === '') {
        throw new SyntaxError(
          `${where}: the step ${JSON.stringify(cells[stepColumn])} is not an integer >= 0`,
        );
      }
      const ts = timestampColumn === -1 ? 0 : Number(cells[timestampColumn]);
      const cell = cells[valueColumn] ?? '';
      const value: MetricValue | undefined = parseMetricCell(cell);
      if (value === undefined) {
        throw new SyntaxError(
          cell.trim() === ''
            ? `${where}: the value is empty`
            : `${where}: not a number: ${JSON.stringify(cell)}`,
        );
      }
      firstTimestamp = Math.min(firstTimestamp, ts);
      lastTimestamp = Math.max(lastTimestamp, ts);
      const event: MetricEvent = {
        id: eventId(`metric:${series}:${index}`),
        seq: 0,
        ts,
        kind: 'metric',
        name,
        value,
        step,
      };
      if (labelled !== undefined) event.labels = { ...labelled.labels };
      metricRows.push({ event, order: order++ });
    });
  }
  // Replay in the order the points were recorded.
  metricRows.sort((left, right) => left.event.ts - right.event.ts || left.order - right.order);
  for (const { event } of metricRows) body.push(event);

  const sklearnFolder = under(root, SKLEARN_FOLDER);
  for (const file of filesUnder(sklearnFolder).filter((path) => path.endsWith('.json'))) {
    const name = posix(relative(sklearnFolder, file)).replace(/\.json$/, '');
    const content = JSON.parse(readFileSync(file, 'utf8'));
    const ts = statSync(file).mtimeMs;
    if (Array.isArray(content)) {
      // confusion_matrix: one {actual, predicted} row per sample; the protocol carries counts.
      const counts = new Map<string, { actual: string; predicted: string; count: number }>();
      for (const row of content) {
        const key = `${row.actual}\u0000${row.predicted}`;
        const entry = counts.get(key) ?? {
          actual: String(row.actual),
          predicted: String(row.predicted),
          count: 0,
        };
        entry.count++;
        counts.set(key, entry);
      }
      body.push({
        id: eventId(`plot:${name}`),
        seq: 0,
        ts,
        kind: 'plot',
        name,
        plotKind: 'confusion',
        rows: [...counts.values()],
      });
      continue;
    }
    const [key] = Object.keys(content);
    const plotKind = key === undefined ? undefined : plotKindOfSklearnKey(key);
    if (plotKind === undefined || !Array.isArray(content[key!])) continue;
    body.push({
      id: eventId(`plot:${name}`),
      seq: 0,
      ts,
      kind: 'plot',
      name,
      plotKind,
      rows: content[key!],
    });
  }

  const customFolder = under(root, CUSTOM_PLOTS_FOLDER);
  for (const file of filesUnder(customFolder).filter((path) => path.endsWith('.json'))) {
    const rows = JSON.parse(readFileSync(file, 'utf8'));
    if (!Array.isArray(rows)) continue;
    const name = posix(relative(customFolder, file)).replace(/\.json$/, '');
    body.push({
      id: eventId(`plot:custom:${name}`),
      seq: 0,
      ts: statSync(file).mtimeMs,
      kind: 'plot',
      name,
      plotKind: 'custom',
      rows,
    });
  }

  const imagesFolder = under(root, IMAGES_FOLDER);
  for (const file of filesUnder(imagesFolder)) {
    const mime = imageMimeOfFile(file);
    if (mime === undefined) continue;
    const name = posix(relative(imagesFolder, file));
    body.push({
      id: eventId(`image:${name}`),
      seq: 0,
      ts: statSync(file).mtimeMs,
      kind: 'image',
      name,
      step: 0,
      mime,
      bytes: readFileSync(file).toString('base64'),
    });
  }

  const start = Number.isFinite(firstTimestamp) ? firstTimestamp : statSync(root).mtimeMs;
  const events: RunEvent[] = [
    {
      id: eventId('start'),
      seq: 0,
      ts: start,
      kind: 'start',
      experiment: run.experiment,
      name: run.name,
    },
  ];
  for (const event of body) events.push({ ...event, seq: events.length });
  const ending = endingOf(root, recorded?.status ?? 'completed', options);
  if (ending !== undefined) {
    const done: DoneEvent = {
      id: eventId('done'),
      seq: events.length,
      ts: Math.max(lastTimestamp, start),
      kind: 'done',
      status: ending,
    };
    if (recorded?.error !== undefined) done.error = recorded.error;
    events.push(done);
  }
  return { run, events, folder: root };
}

/**
 * How a run that the folder says is still `running` ended: `interrupted` when its writer is gone
 * (killed, or a crash the exit hooks could not record); no ending yet while a live process on
 * this host still writes it (a later sync sends the rest).
 */
function endingOf(
  root: string,
  status: 'running' | DoneEvent['status'],
  options: ReadOptions,
): DoneEvent['status'] | undefined {
  if (status !== 'running') return status;
  let writer: { pid?: unknown; host?: unknown } | undefined;
  try {
    writer = JSON.parse(readFileSync(join(root, LOCK_FILE_NAME), 'utf8'));
  } catch {
    writer = undefined;
  }
  if (typeof writer?.host === 'string' && writer.host !== hostname()) {
    // A writer on another machine (a shared disk): its pid means nothing here, so it may live.
    options.onWarning?.(
      `livestep: ${root} is being written on ${writer.host}, or was; syncing what it holds so far, without an end: sync it again when the run ends, or remove ${LOCK_FILE_NAME} if that run is gone`,
    );
    return undefined;
  }
  if (typeof writer?.pid === 'number' && isProcessRunning(writer.pid)) {
    options.onWarning?.(
      `livestep: ${root} is still being written (pid ${writer.pid}); syncing what it holds so far, without an end: sync it again when the run ends`,
    );
    return undefined;
  }
  options.onWarning?.(
    `livestep: ${root} was left running by a writer that is gone (killed?); syncing it as interrupted`,
  );
  return 'interrupted';
}
