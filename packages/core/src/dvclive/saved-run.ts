/**
 * What a run folder in DVCLive's layout already holds, for resuming it: the latest value of every
 * metric, the step, and the params. DVCLive's resume continues at the saved step + 1 and keeps
 * what was there.
 *
 * The TSVs are the record: a batch's rows are appended before metrics.json is rewritten, so after
 * a `kill -9` metrics.json may lag them by a batch. Resume therefore reads each TSV's last
 * complete row (from the end of the file, whatever its length), and falls back to metrics.json
 * only for a folder without TSVs. A row cut off by a killed writer (no newline after it) is not
 * data: it is reported in `tornFiles`, never read as a value, and the directory sink cuts it off
 * before appending.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
} from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { MetricValue } from '../protocol/events.js';
import { METRICS_FOLDER, METRICS_SUMMARY_FILE, PARAMS_FILE, parseMetricCell } from './layout.js';

/** How much of a TSV's end is read to find its last row; a row is under 100 bytes. */
const TAIL_BYTES = 4_096;

export interface TornFile {
  path: string;
  /** The length of the file up to its last complete row: what is kept. */
  keepBytes: number;
}

export interface SavedRun {
  /** Latest value per series (`train/loss`, `eval/f1/class=a`), from the TSVs' last rows. */
  latestValues: Map<string, MetricValue>;
  /** The highest step any series reached, if any. */
  step?: number;
  params: Record<string, unknown>;
  /** TSVs whose last row was cut off. */
  tornFiles: TornFile[];
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

/** The end of a file (its last `TAIL_BYTES` bytes, or all of it) and where that end starts. */
function readTail(path: string): { tail: Buffer; start: number } {
  const descriptor = openSync(path, 'r');
  try {
    const size = fstatSync(descriptor).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const tail = Buffer.alloc(size - start);
    readSync(descriptor, tail, 0, tail.length, start);
    return { tail, start };
  } finally {
    closeSync(descriptor);
  }
}

const NEWLINE = 0x0a;

/** The last complete row of a TSV (`timestamp\tstep\tvalue`), checking every cell. */
function lastRow(
  path: string,
  tornFiles: TornFile[],
): { step: number; value: MetricValue } | undefined {
  const { tail, start } = readTail(path);
  const lastNewline = tail.lastIndexOf(NEWLINE);
  if (tail.length > 0 && lastNewline !== tail.length - 1) {
    // Cut off by a killed writer. Keep up to the last newline; with none in the tail, a row
    // longer than the tail (never written by livestep) is left alone.
    if (lastNewline >= 0 || start === 0) {
      tornFiles.push({ path, keepBytes: start + lastNewline + 1 });
    }
  }
  if (lastNewline < 0) return undefined;
  const lines = tail.subarray(0, lastNewline).toString('utf8').split('\n');
  for (let index = lines.length - 1; index >= 0; index--) {
    const cells = lines[index]!.split('\t');
    if (cells.length !== 3 || !/^\d+$/.test(cells[1]!)) continue;
    const value = parseMetricCell(cells[2]!);
    if (value === undefined) continue;
    return { step: Number(cells[1]), value };
  }
  return undefined;
}

/** Every `.tsv` under `plots/metrics`, as series names (`train/loss`) and paths. */
function seriesFiles(directory: string): Array<{ series: string; path: string }> {
  const root = join(directory, ...METRICS_FOLDER.split('/'));
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.tsv'))
    .map((name) => ({
      series: name.slice(0, -'.tsv'.length).split('\\').join('/'),
      path: join(root, name),
    }));
}

/** Reads metrics.json, naming the file when it cannot be read. */
function readSummary(path: string): Record<string, unknown> | undefined {
  const text = readFileSync(path, 'utf8');
  if (text.trim() === '') return undefined;
  try {
    const summary = JSON.parse(text);
    return typeof summary === 'object' && summary !== null ? summary : undefined;
  } catch (error) {
    throw new SyntaxError(
      `livestep: cannot resume from ${path}: it is not valid JSON (${(error as Error).message}); fix or remove it`,
    );
  }
}

/** Reads a run folder; a folder that does not exist (or holds nothing) gives an empty saved run. */
export function readSavedRun(directory: string): SavedRun {
  const saved: SavedRun = { latestValues: new Map(), params: {}, tornFiles: [] };
  const series = seriesFiles(directory);
  for (const { series: name, path } of series) {
    const row = lastRow(path, saved.tornFiles);
    if (row === undefined) continue;
    saved.latestValues.set(name, row.value);
    if (saved.step === undefined || row.step > saved.step) saved.step = row.step;
  }
  const metricsFile = join(directory, METRICS_SUMMARY_FILE);
  if (series.length === 0 && existsSync(metricsFile)) {
    const summary = readSummary(metricsFile);
    if (summary !== undefined) {
      const { step, ...metrics } = summary;
      if (typeof step === 'number' && Number.isInteger(step) && step >= 0) saved.step = step;
      flatten(metrics, '', saved.latestValues);
    }
  }
  const paramsFile = join(directory, PARAMS_FILE);
  if (existsSync(paramsFile)) {
    // Unique-key checks make parsing quadratic in the number of keys (40,000 keys: 10 s).
    const params = YAML.parse(readFileSync(paramsFile, 'utf8'), { uniqueKeys: false });
    if (typeof params === 'object' && params !== null && !Array.isArray(params))
      saved.params = params;
  }
  return saved;
}
