/**
 * Turns a DVC Studio api/live body (start, data, done; see shared/reference/dvc-studio-live.md)
 * into events of the same run model as protocol v1, so a Python DVCLive run lands beside the JS
 * runs. (baseline_sha, name) identifies the run; its id is derived from them.
 *
 *   start                              -> start event (message, git sha and repository), params
 *   params {file: {...}}               -> a params event (stored once per distinct content)
 *   metrics {<dir>/metrics.json: data} -> the run's summary
 *   plots  <dir>/plots/metrics/x.tsv   -> metric points (a row: step, timestamp, value columns)
 *          <dir>/plots/images/x.png    -> an image (step of the body)
 *          <dir>/plots/sklearn/roc.json, plots/custom/*.json -> plots as data
 *   done   (errors: failed, or interrupted) -> done event
 *
 * Every event id is derived from what it holds, so a body posted again (the client counts only a
 * 200 as delivered and re-sends what it did not see acknowledged) is stored once.
 */
import type {
  AnnotationEvent,
  ImageMimeType,
  MetricValue,
  PlotKind,
  RunEvent,
  RunIdentity,
} from '@livestep/core/protocol';
import { explainBadName, IMAGE_MIME_TYPES } from '@livestep/core/protocol';
import type { ErrorIssue } from '../http/http-error.js';
import type { IngestBatch } from '../storage/run-store.js';
import { contentHash, deterministicUuid } from './deterministic-uuid.js';

/** The experiment of a Studio run whose repository URL gives no name. */
const FALLBACK_EXPERIMENT = 'dvclive';
/** A Studio body without a name (the schema allows it). */
const FALLBACK_NAME = 'unnamed';

type Body = Record<string, unknown>;

const SKLEARN_KINDS: Record<string, PlotKind> = {
  roc: 'roc',
  precision_recall: 'pr',
  calibration: 'calibration',
  confusion_matrix: 'confusion',
};
const TEMPLATE_KINDS: Record<string, PlotKind> = {
  confusion: 'confusion',
  confusion_normalized: 'confusion',
  linear: 'line',
  simple: 'line',
  smooth: 'line',
  scatter: 'scatter',
  scatter_jitter: 'scatter',
  bar_horizontal: 'bar',
  bar_horizontal_sorted: 'bar',
};

export interface StudioConversion {
  batch?: IngestBatch;
  issues: ErrorIssue[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `https://github.com/acme/iris.git` -> `iris`. */
function experimentOf(repositoryUrl: string): string {
  const last = repositoryUrl
    .replace(/[?#].*$/, '')
    .replace(/\/+$/, '')
    .split(/[/:]/)
    .at(-1)
    ?.replace(/\.git$/, '');
  return last !== undefined && last !== '' ? last : FALLBACK_EXPERIMENT;
}

/** A row's timestamp: epoch ms, seconds, or an ISO date; the server's clock when unreadable. */
function timestampOf(value: unknown, now: number): number {
  if (typeof value === 'number' && Number.isFinite(value))
    return value < 1e11 ? value * 1000 : value;
  if (typeof value === 'string') {
    const number = Number(value);
    if (value.trim() !== '' && Number.isFinite(number))
      return number < 1e11 ? number * 1000 : number;
    const parsed = Date.parse(value);
    if (!Number.isNaN(parsed)) return parsed;
  }
  return now;
}

function metricValueOf(value: unknown): MetricValue | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value === 'nan' || value === 'inf' || value === '-inf') return value;
  return undefined;
}

/** Where a path sits in DVCLive's layout: `<dir>/plots/<folder>/<name>`. */
function locate(path: string): { folder: string; name: string } | undefined {
  const segments = path.split('/');
  const index = segments.lastIndexOf('plots', segments.length - 3);
  if (index < 0) return undefined;
  return { folder: segments[index + 1]!, name: segments.slice(index + 2).join('/') };
}

function sniffImage(bytes: Buffer): ImageMimeType | undefined {
  if (bytes.subarray(0, 8).equals(Buffer.from('89504e470d0a1a0a', 'hex'))) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'image/jpeg';
  if (bytes.subarray(0, 3).toString('latin1') === 'GIF') return 'image/gif';
  return undefined;
}

/** Converts a body that passed the Studio schema check. */
export function studioBodyToBatch(body: Body, now: number): StudioConversion {
  const issues: ErrorIssue[] = [];
  const fail = (path: string, message: string) => issues.push({ path, message });
  const baselineSha = String(body.baseline_sha).toLowerCase();
  const repositoryUrl = String(body.repo_url);
  const name = typeof body.name === 'string' && body.name.trim() !== '' ? body.name : FALLBACK_NAME;
  const runId = deterministicUuid(`livestep-studio-run:${baselineSha}:${name}`);
  const run: RunIdentity = { id: runId, experiment: experimentOf(repositoryUrl), name };
  const id = (key: string) => deterministicUuid(`${runId}:${key}`);
  const events: RunEvent[] = [];
  // seq is assigned by the store (assignSequence); ts is the body's time.
  const stamp = (key: string, ts = now) => ({ id: id(key), seq: 0, ts });

  if (body.type === 'start') {
    const start: RunEvent = {
      ...stamp('start'),
      kind: 'start',
      experiment: run.experiment,
      name,
      git: { sha: baselineSha, repoUrl: repositoryUrl },
    };
    if (typeof body.message === 'string') start.message = body.message;
    if (isObject(body.machine)) start.machine = body.machine;
    events.push(start);
  }

  if (isObject(body.params)) {
    const params: Record<string, unknown> = {};
    for (const value of Object.values(body.params))
      if (isObject(value)) Object.assign(params, value);
    if (Object.keys(params).length > 0) {
      events.push({ ...stamp(`params:${contentHash(params)}`), kind: 'params', params });
    }
  }

  let summary: Record<string, unknown> | undefined;
  if (isObject(body.metrics)) {
    for (const value of Object.values(body.metrics)) {
      if (isObject(value) && isObject(value.data)) summary = { ...summary, ...value.data };
    }
  }

  const step = typeof body.step === 'number' ? body.step : 0;
  if (body.type === 'data' && (step < 0 || step > Number.MAX_SAFE_INTEGER)) {
    fail('step', `must be 0 or more and at most 2^53 - 1, got ${step}`);
  }
  if (isObject(body.plots)) {
    for (const [path, plot] of Object.entries(body.plots)) {
      if (!isObject(plot)) continue;
      const where = `plots[${JSON.stringify(path)}]`;
      const location = locate(path);
      if (Array.isArray(plot.data) && location?.folder === 'metrics' && path.endsWith('.tsv')) {
        const metric = location.name.slice(0, -'.tsv'.length);
        const column = metric.slice(metric.lastIndexOf('/') + 1);
        plot.data.forEach((row: Record<string, unknown>, index: number) => {
          const rowStep = row.step as number;
          if (rowStep < 0 || rowStep > Number.MAX_SAFE_INTEGER) {
            fail(
              `${where}.data[${index}].step`,
              `must be 0 or more and at most 2^53 - 1, got ${rowStep}`,
            );
            return;
          }
          const ts = timestampOf(row.timestamp, now);
          for (const [key, raw] of Object.entries(row)) {
            if (key === 'step' || key === 'timestamp') continue;
            const seriesName = key === column ? metric : `${metric}/${key}`;
            const problem = explainBadName(seriesName);
            if (problem !== undefined) {
              fail(
                `${where}.data[${index}].${key}`,
                `the metric name ${JSON.stringify(seriesName)} ${problem}`,
              );
              continue;
            }
            const value = metricValueOf(raw);
            if (value === undefined) {
              fail(`${where}.data[${index}].${key}`, 'must be a number or "nan"/"inf"/"-inf"');
              continue;
            }
            events.push({
              ...stamp(`metric:${seriesName}:${rowStep}:${String(row.timestamp)}`, ts),
              kind: 'metric',
              name: seriesName,
              value,
              step: rowStep,
            });
          }
        });
        continue;
      }
      const plotName = (location?.name ?? path).replace(/\.json$/, '');
      const problem = explainBadName(plotName);
      if (problem !== undefined) {
        fail(where, `the name ${JSON.stringify(plotName)} ${problem}`);
        continue;
      }
      if (typeof plot.image === 'string') {
        const bytes = Buffer.from(plot.image, 'base64');
        // The bytes decide, not the file name: only what the protocol can carry is taken.
        const mime = sniffImage(bytes);
        if (mime === undefined || !IMAGE_MIME_TYPES.includes(mime)) {
          fail(`${where}.image`, 'must be a base64 PNG, JPEG or GIF image');
          continue;
        }
        events.push({
          ...stamp(`image:${plotName}:${step}:${contentHash(plot.image)}`),
          kind: 'image',
          name: plotName,
          step,
          mime,
          bytes: bytes.toString('base64'),
        });
        continue;
      }
      if (Array.isArray(plot.data)) {
        const properties = isObject(plot.props) ? plot.props : {};
        const template = typeof properties.template === 'string' ? properties.template : '';
        const sklearn =
          location?.folder === 'sklearn' ? SKLEARN_KINDS[plotName.split('/').at(-1)!] : undefined;
        const plotKind = sklearn ?? TEMPLATE_KINDS[template] ?? 'custom';
        let rows = plot.data.filter(isObject) as Array<
          Record<string, string | number | boolean | null>
        >;
        if (plotKind === 'confusion') rows = countConfusion(rows);
        const event: RunEvent = {
          ...stamp(`plot:${path}:${step}:${contentHash(plot.data)}`),
          kind: 'plot',
          name: plotName,
          plotKind,
          step,
          rows: rows.map(cellsOnly),
        };
        for (const [from, to] of [
          ['x', 'x'],
          ['y', 'y'],
          ['title', 'title'],
          ['x_label', 'xLabel'],
          ['y_label', 'yLabel'],
        ] as const) {
          if (typeof properties[from] === 'string') event[to] = properties[from] as string;
        }
        events.push(event);
      }
    }
  }

  if (Array.isArray(body.errors) && body.type !== 'done') {
    for (const [index, error] of body.errors.entries()) {
      const note: AnnotationEvent = {
        ...stamp(`error:${step}:${index}:${contentHash(error)}`),
        kind: 'annotation',
        level: 'error',
        text: `${String((error as Body).cls)}: ${String((error as Body).text)}`,
      };
      events.push(note);
    }
  }

  if (body.type === 'done') {
    const errors = Array.isArray(body.errors) ? (body.errors as Body[]) : [];
    const first = errors[0];
    const interrupted = first !== undefined && /interrupt/i.test(String(first.cls));
    const done: RunEvent = {
      ...stamp('done'),
      kind: 'done',
      status: first === undefined ? 'completed' : interrupted ? 'interrupted' : 'failed',
    };
    if (first !== undefined) done.error = { name: String(first.cls), message: String(first.text) };
    events.push(done);
  }

  if (issues.length > 0) return { issues };
  const batch: IngestBatch = { run, events, source: 'studio', assignSequence: true };
  if (summary !== undefined) batch.summary = summary;
  return { batch, issues };
}

/** A plot cell is a number, a string, a boolean or null; anything else is shown as JSON text. */
function cellsOnly(row: Record<string, unknown>): Record<string, string | number | boolean | null> {
  const cells: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(row)) {
    cells[key] =
      value === null ||
      typeof value === 'number' ||
      typeof value === 'string' ||
      typeof value === 'boolean'
        ? value
        : JSON.stringify(value);
  }
  return cells;
}

/** DVCLive's confusion matrix is one {actual, predicted} row per sample; the protocol counts them. */
function countConfusion(
  rows: Array<Record<string, string | number | boolean | null>>,
): Array<Record<string, string | number | boolean | null>> {
  if (rows.every((row) => 'count' in row)) return rows;
  const counts = new Map<string, { actual: string; predicted: string; count: number }>();
  for (const row of rows) {
    const actual = String(row.actual);
    const predicted = String(row.predicted);
    const key = JSON.stringify([actual, predicted]);
    const entry = counts.get(key) ?? { actual, predicted, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  return [...counts.values()];
}
