/**
 * End to end with real processes: a training script (its own node process, @livestep/core with
 * the directory sink and the HTTP sink) streams to a real `livestep serve`; what the query API
 * returns equals what the directory sink wrote: every point of every series, the params, the plots.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runNodeScript } from '@livestep/test-support';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { startServe } from './test-support/livestep-cli.js';

const core = pathToFileURL(
  createRequire(import.meta.url)
    .resolve('@livestep/core')
    .replace(/index\.cjs$/, 'index.js'),
).href;
const PROCESS_TIMEOUT_MS = 30_000;

const TRAINING_SCRIPT = `
import { startRun, createDirectorySink, createHttpSink, confusionMatrix, rocCurve } from ${JSON.stringify(core)};
const run = startRun({
  experiment: 'e2e',
  name: 'two-sinks',
  exitHooks: false,
  collectGit: false,
  sinks: [
    createDirectorySink({ directory: process.env.RUN_FOLDER }),
    createHttpSink({ url: process.env.LIVESTEP_URL, spoolDirectory: process.env.SPOOL }),
  ],
});
run.logParams({ learningRate: 0.05, model: { units: [16, 8], activation: 'relu' } });
for (let epoch = 0; epoch < 300; epoch++) {
  run.logMetric('train/loss', epoch === 17 ? Number.NaN : 1 / (epoch + 1));
  run.logMetric('train/accuracy', epoch / 300);
  if (epoch % 10 === 0) run.logMetric('eval/f1', epoch / 1000, { labels: { class: 'setosa' } });
  run.nextStep();
  if (epoch % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
}
run.logPlot('confusion', confusionMatrix(['a', 'b', 'a', 'c'], ['a', 'b', 'b', 'c']));
run.logPlot('roc', rocCurve([0, 1, 1, 0, 1], [0.2, 0.9, 0.7, 0.4, 0.6]));
const report = await run.end();
console.log(JSON.stringify({ id: run.id, ok: report.ok }));
`;

function runScript(path: string, environment: Record<string, string>) {
  return runNodeScript(path, { env: environment, timeoutMs: PROCESS_TIMEOUT_MS });
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** A TSV as numbers: NaN where the file says nan. */
function readTsv(path: string): Array<{ step: number; value: number }> {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const columns = header!.split('\t');
  const valueColumn = columns.findIndex((column) => column !== 'step' && column !== 'timestamp');
  return lines.map((line) => {
    const cells = line.split('\t');
    return { step: Number(cells[columns.indexOf('step')]), value: Number(cells[valueColumn]) };
  });
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const response = await fetch(url);
  expect(response.status, url).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

function fromWire(value: unknown): number {
  if (value === 'nan') return Number.NaN;
  if (value === 'inf') return Number.POSITIVE_INFINITY;
  if (value === '-inf') return Number.NEGATIVE_INFINITY;
  return value as number;
}

describe('a training process streaming to a real livestep serve', () => {
  it('ends with the same points, params and plots in the query API as in its run folder', async () => {
    const work = mkdtempSync(join(tmpdir(), 'livestep-e2e-'));
    const url = await startServe(['--data', join(work, 'server-data')]).url;
    const script = join(work, 'train.mjs');
    writeFileSync(script, TRAINING_SCRIPT);
    const runFolder = join(work, 'livestep');
    const result = await runScript(script, {
      LIVESTEP_URL: url,
      RUN_FOLDER: runFolder,
      SPOOL: join(work, 'spool'),
    });
    expect(result.code, result.stderr).toBe(0);
    const { id, ok } = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    expect(ok).toBe(true);
    const base = `${url}/api/v1/runs/${id}`;

    const { run } = (await getJson(base)) as { run: Record<string, unknown> };
    expect(run.params).toEqual(YAML.parse(readFileSync(join(runFolder, 'params.yaml'), 'utf8')));
    expect(run.state).toBe('completed');

    const metricsFolder = join(runFolder, 'plots', 'metrics');
    const seriesFiles = filesUnder(metricsFolder).filter((path) => path.endsWith('.tsv'));
    const names = seriesFiles
      .map((path) => relative(metricsFolder, path).replace(/\.tsv$/, ''))
      .sort();
    const served = ((await getJson(`${base}/metrics`)).metrics as Array<{ name: string }>).map(
      (series) => series.name,
    );
    expect(served.sort()).toEqual(names);
    for (const name of names) {
      const expected = readTsv(join(metricsFolder, `${name}.tsv`));
      const points: Array<{ step: number; value: number }> = [];
      let cursor: string | undefined;
      do {
        const page = await getJson(
          `${base}/metrics/history?name=${encodeURIComponent(name)}&limit=97${cursor ? `&cursor=${cursor}` : ''}`,
        );
        for (const point of page.points as Array<{ step: number; value: unknown }>) {
          points.push({ step: point.step, value: fromWire(point.value) });
        }
        cursor = page.nextCursor as string | undefined;
      } while (cursor !== undefined);
      expect(points, name).toEqual(expected);
    }

    const plots = (await getJson(`${base}/plots`)).plots as Array<{
      name: string;
      rows: unknown[];
    }>;
    const roc = JSON.parse(readFileSync(join(runFolder, 'plots', 'sklearn', 'roc.json'), 'utf8'));
    expect(plots.find((plot) => plot.name === 'roc')!.rows).toEqual(roc.roc);
    const confusion = JSON.parse(
      readFileSync(join(runFolder, 'plots', 'sklearn', 'confusion.json'), 'utf8'),
    ) as Array<{ actual: string; predicted: string }>;
    const counted = (
      plots.find((plot) => plot.name === 'confusion')!.rows as Array<{
        actual: string;
        predicted: string;
        count: number;
      }>
    ).flatMap((row) =>
      Array.from({ length: row.count }, () => ({ actual: row.actual, predicted: row.predicted })),
    );
    expect(counted).toEqual(confusion);
  });
});
