// examples/custom-loop run as a user runs it (`node src/train.mjs`, a real process), writing into
// a temporary LIVESTEP_DIR: the folder must be exactly what DVCLive would have written (see
// shared/reference/dvclive-layout.md), a second run must replace the first, and a dvc.yaml the
// user wrote keeps its own entries.
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNodeScript } from '@livestep/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';

const exampleFolder = fileURLToPath(new URL('../../examples/custom-loop/', import.meta.url));
const irisCsv = fileURLToPath(new URL('../../examples/datasets/iris.csv', import.meta.url));
/**
 * The example trains in well under a second; a process still alive after this has hung (an open
 * handle kept the event loop alive) and is killed.
 */
const EXIT_DEADLINE_MS = 20_000;
/** The run folder's name inside each temporary folder; dvc.yaml is written beside it. */
const RUN_FOLDER = 'livestep';
const METRICS = ['train/loss', 'train/accuracy', 'eval/loss', 'eval/accuracy'];
/** DVCLive's files, plus livestep.json: the run's identity and status, for `livestep sync`. */
const EXPECTED_FILES = [
  'livestep.json',
  'metrics.json',
  'params.yaml',
  'plots/metrics/eval/accuracy.tsv',
  'plots/metrics/eval/loss.tsv',
  'plots/metrics/train/accuracy.tsv',
  'plots/metrics/train/loss.tsv',
  // System metrics (track() with systemMetrics, the GPU left out), as DVCLive names them.
  'plots/metrics/system/cpu/count.tsv',
  'plots/metrics/system/cpu/parallelization (%).tsv',
  'plots/metrics/system/cpu/usage (%).tsv',
  'plots/metrics/system/event-loop/delay/p99 (ms).tsv',
  'plots/metrics/system/process/cpu/usage (%).tsv',
  'plots/metrics/system/process/heap/used (GB).tsv',
  'plots/metrics/system/process/ram/rss (GB).tsv',
  'plots/metrics/system/ram/total (GB).tsv',
  'plots/metrics/system/ram/usage (%).tsv',
  'plots/metrics/system/ram/usage (GB).tsv',
  'plots/sklearn/confusion_matrix.json',
].sort();

const [csvHeader, ...csvLines] = (await readFile(irisCsv, 'utf8')).trim().split(/\r?\n/);
const FEATURE_NAMES = csvHeader!.split(',').slice(0, -1);
const CLASS_NAMES = [...new Set(csvLines.map((line) => line.split(',').at(-1)!))];
const VALIDATION_SIZE = 30;

interface ExampleResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  startedAt: number;
  endedAt: number;
}

interface MetricRow {
  timestamp: number;
  step: number;
  value: number;
}

const temporaryFolders: string[] = [];

afterAll(() => {
  for (const folder of temporaryFolders) rmSync(folder, { recursive: true, force: true });
});

/** A fresh temporary folder (removed after the tests) and the run folder inside it. */
function freshProject(): { project: string; runFolder: string } {
  const project = mkdtempSync(join(tmpdir(), 'livestep-custom-loop-'));
  temporaryFolders.push(project);
  return { project, runFolder: join(project, RUN_FOLDER) };
}

/** Runs the example as a child process and waits for it to exit (killing it if it hangs). */
async function runExample(runFolder: string, epochs?: number): Promise<ExampleResult> {
  // The environment of a user who set only LIVESTEP_DIR (and maybe EPOCHS): no server, no Studio.
  const startedAt = Date.now();
  const { code, signal, stdout, stderr } = await runNodeScript('src/train.mjs', {
    cwd: exampleFolder,
    removeEnv: /^(LIVESTEP_|DVC_STUDIO_|EPOCHS$)/,
    env: { LIVESTEP_DIR: runFolder, ...(epochs !== undefined && { EPOCHS: String(epochs) }) },
    timeoutMs: EXIT_DEADLINE_MS,
  });
  const endedAt = Date.now();
  return { code, signal, stdout, stderr, elapsedMs: endedAt - startedAt, startedAt, endedAt };
}

/** Runs the example and checks it exited by itself, promptly, with code 0. */
async function runExampleSuccessfully(runFolder: string, epochs?: number): Promise<ExampleResult> {
  const result = await runExample(runFolder, epochs);
  const output = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  const hung = `the example did not exit by itself within ${EXIT_DEADLINE_MS} ms and was killed`;
  expect(result.signal, `${hung}\n${output}`).toBeNull();
  expect(result.code, output).toBe(0);
  expect(result.elapsedMs, 'the example exits promptly').toBeLessThan(EXIT_DEADLINE_MS);
  return result;
}

/** Every file under a folder, as POSIX paths relative to it, sorted. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/** Reads a metric's TSV, checking its header and the shape of every row. */
async function readMetricRows(runFolder: string, metric: string): Promise<MetricRow[]> {
  const text = await readFile(join(runFolder, 'plots/metrics', `${metric}.tsv`), 'utf8');
  expect(text.endsWith('\n'), `${metric}.tsv ends with a newline`).toBe(true);
  const [header, ...lines] = text.slice(0, -1).split('\n');
  expect(header).toBe(`timestamp\tstep\t${metric.split('/').at(-1)}`);
  return lines.map((line) => {
    const cells = line.split('\t');
    expect(cells, `${metric}.tsv row "${line}"`).toHaveLength(3);
    const [timestamp, step, value] = cells as [string, string, string];
    expect(timestamp, `${metric}.tsv timestamp`).toMatch(/^\d+$/);
    expect(step, `${metric}.tsv step`).toMatch(/^\d+$/);
    expect(Number.isFinite(Number(value)), `${metric}.tsv value "${value}"`).toBe(true);
    return { timestamp: Number(timestamp), step: Number(step), value: Number(value) };
  });
}

async function readAllMetricRows(runFolder: string): Promise<Record<string, MetricRow[]>> {
  const entries = await Promise.all(
    METRICS.map(async (metric) => [metric, await readMetricRows(runFolder, metric)] as const),
  );
  return Object.fromEntries(entries);
}

/** Reads a JSON file written as DVCLive writes it: indent 4 and a trailing newline. */
async function readDvcLiveJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  const value: unknown = JSON.parse(text);
  expect(text, `${path} is formatted with indent 4 and a trailing newline`).toBe(
    `${JSON.stringify(value, null, 4)}\n`,
  );
  return value;
}

async function readYaml(path: string): Promise<Record<string, unknown>> {
  return YAML.parse(await readFile(path, 'utf8'));
}

const lastValue = (rows: MetricRow[] | undefined) => rows!.at(-1)!.value;

/** The dvc.yaml entries the example's run owns, as DVCLive writes them. */
const OWN_DVC_YAML = {
  metrics: [`${RUN_FOLDER}/metrics.json`],
  params: [`${RUN_FOLDER}/params.yaml`],
  plots: [
    { [`${RUN_FOLDER}/plots/metrics`]: { x: 'step' } },
    {
      [`${RUN_FOLDER}/plots/sklearn/confusion_matrix.json`]: {
        template: 'confusion',
        x: 'actual',
        y: 'predicted',
        title: 'Confusion Matrix',
        x_label: 'True Label',
        y_label: 'Predicted Label',
      },
    },
  ],
};

describe('examples/custom-loop', () => {
  it('writes the run in exactly DVCLive’s layout and prints where and how it ended', async () => {
    const { project, runFolder } = freshProject();
    const result = await runExampleSuccessfully(runFolder);

    // Exactly the files DVCLive would write (and livestep.json), and dvc.yaml beside the run folder.
    expect(await filesUnder(runFolder)).toEqual(EXPECTED_FILES);
    expect((await readdir(project)).sort()).toEqual(['dvc.yaml', RUN_FOLDER]);

    // params.yaml: the params the example logged, in block style.
    const paramsText = await readFile(join(runFolder, 'params.yaml'), 'utf8');
    expect(paramsText).not.toMatch(/[[{]/);
    const params: { learningRate: number; epochs: number } = YAML.parse(paramsText);
    expect(params).toEqual({
      learningRate: expect.any(Number),
      epochs: expect.any(Number),
      batchSize: expect.any(Number),
      seed: expect.any(Number),
      l2: expect.any(Number),
      featureNames: FEATURE_NAMES,
      classNames: CLASS_NAMES,
      split: { training: csvLines.length - VALIDATION_SIZE, validation: VALIDATION_SIZE },
    });
    expect(params.learningRate).toBeGreaterThan(0);
    expect(Number.isInteger(params.epochs) && params.epochs > 1).toBe(true);
    const epochs = params.epochs;

    // One TSV row per epoch: steps 0..epochs-1 in order, timestamps of this process's lifetime.
    const rows = await readAllMetricRows(runFolder);
    for (const metric of METRICS) {
      const series = rows[metric]!;
      expect(series.map((row) => row.step)).toEqual([...Array(epochs).keys()]);
      for (const row of series) {
        expect(Number.isSafeInteger(row.timestamp)).toBe(true);
        expect(row.timestamp).toBeGreaterThanOrEqual(result.startedAt);
        expect(row.timestamp).toBeLessThanOrEqual(result.endedAt);
        if (metric.endsWith('/loss')) expect(row.value).toBeGreaterThan(0);
        else {
          expect(row.value).toBeGreaterThanOrEqual(0);
          expect(row.value).toBeLessThanOrEqual(1);
        }
      }
      const timestamps = series.map((row) => row.timestamp);
      expect(timestamps).toEqual([...timestamps].sort((a, b) => a - b));
    }
    // Training helps: the loss falls and the held-out flowers are classified well.
    expect(lastValue(rows['train/loss'])).toBeLessThan(rows['train/loss']![0]!.value);
    expect(lastValue(rows['eval/loss'])).toBeLessThan(rows['eval/loss']![0]!.value);
    expect(lastValue(rows['eval/accuracy'])).toBeGreaterThan(0.9);

    // metrics.json: the last row of every TSV, nested by `/`, and the last step.
    const metrics = await readDvcLiveJson(join(runFolder, 'metrics.json'));
    expect(metrics).toEqual({
      train: { loss: lastValue(rows['train/loss']), accuracy: lastValue(rows['train/accuracy']) },
      eval: { loss: lastValue(rows['eval/loss']), accuracy: lastValue(rows['eval/accuracy']) },
      system: expect.any(Object),
      step: epochs - 1,
    });

    // confusion_matrix.json: one {actual, predicted} per validation flower; its diagonal is the
    // final eval accuracy.
    const confusion = (await readDvcLiveJson(
      join(runFolder, 'plots/sklearn/confusion_matrix.json'),
    )) as Array<Record<string, unknown>>;
    expect(Array.isArray(confusion)).toBe(true);
    expect(confusion).toHaveLength(VALIDATION_SIZE);
    for (const sample of confusion) {
      expect(Object.keys(sample).sort()).toEqual(['actual', 'predicted']);
      expect(CLASS_NAMES).toContain(sample.actual);
      expect(CLASS_NAMES).toContain(sample.predicted);
    }
    for (const label of CLASS_NAMES) {
      const members = confusion.filter((sample) => sample.actual === label);
      expect(members, `stratified split: validation flowers of ${label}`).toHaveLength(
        VALIDATION_SIZE / CLASS_NAMES.length,
      );
    }
    const correct = confusion.filter((sample) => sample.actual === sample.predicted).length;
    expect(correct / VALIDATION_SIZE).toBe(lastValue(rows['eval/accuracy']));

    // dvc.yaml beside the run folder points DVC at all of it.
    expect(await readYaml(join(project, 'dvc.yaml'))).toEqual(OWN_DVC_YAML);

    // The summary the user sees: where the run is, and how it ended.
    expect(result.stdout).toContain(runFolder);
    const printed = (split: string) => {
      const match = result.stdout.match(
        new RegExp(`^\\s*${split}\\s+loss (\\d+\\.\\d+), accuracy (\\d+\\.\\d+)`, 'm'),
      );
      expect(match, `the summary prints the final ${split} loss and accuracy`).not.toBeNull();
      return { loss: Number(match![1]), accuracy: Number(match![2]) };
    };
    for (const split of ['train', 'eval']) {
      const shown = printed(split);
      expect(shown.loss).toBeCloseTo(lastValue(rows[`${split}/loss`]), 3);
      expect(shown.accuracy).toBeCloseTo(lastValue(rows[`${split}/accuracy`]), 2);
    }
    expect(result.stdout).toMatch(/dvc plots show/);
    // Piped, the loop's progress is one final line on stderr, and nothing else is.
    expect(result.stderr).toMatch(/^train \d+\/\d+ \(100%\) \| .* \| done\n$/);
  });

  it('replaces the previous run’s files when run again into the same folder', async () => {
    const { project, runFolder } = freshProject();
    await runExampleSuccessfully(runFolder, 7);
    const first = await readAllMetricRows(runFolder);
    for (const metric of METRICS) expect(first[metric]).toHaveLength(7);
    await runExampleSuccessfully(runFolder, 3);

    expect(await filesUnder(runFolder)).toEqual(EXPECTED_FILES);
    const rows = await readAllMetricRows(runFolder);
    for (const metric of METRICS) {
      // Three rows of the second run, not seven of the first followed by a second header.
      expect(rows[metric]!.map((row) => row.step)).toEqual([0, 1, 2]);
    }
    expect(await readDvcLiveJson(join(runFolder, 'metrics.json'))).toMatchObject({ step: 2 });
    expect(await readYaml(join(runFolder, 'params.yaml'))).toMatchObject({ epochs: 3 });
    const confusion = await readDvcLiveJson(join(runFolder, 'plots/sklearn/confusion_matrix.json'));
    expect(confusion).toHaveLength(VALIDATION_SIZE);
    // The entries are not repeated by the second run.
    expect(await readYaml(join(project, 'dvc.yaml'))).toEqual(OWN_DVC_YAML);
  });

  it('keeps the stages and other entries of a dvc.yaml the user wrote', async () => {
    const { project, runFolder } = freshProject();
    const stages = {
      train: {
        cmd: 'node src/train.mjs',
        deps: ['src/train.mjs', 'data/iris.csv'],
        outs: [{ [RUN_FOLDER]: { cache: false } }],
      },
    };
    const userDvcYaml = {
      stages,
      metrics: ['reports/other-metrics.json', `${RUN_FOLDER}/metrics.json`],
      plots: ['reports/figure.png', { [`${RUN_FOLDER}/plots/custom/stale.json`]: { x: 'step' } }],
    };
    await writeFile(join(project, 'dvc.yaml'), YAML.stringify(userDvcYaml));

    await runExampleSuccessfully(runFolder, 2);

    const dvcYaml = await readYaml(join(project, 'dvc.yaml'));
    expect(dvcYaml.stages).toEqual(stages);
    expect(dvcYaml.metrics).toEqual(['reports/other-metrics.json', ...OWN_DVC_YAML.metrics]);
    expect(dvcYaml.params).toEqual(OWN_DVC_YAML.params);
    // The stale entry of the run folder is gone; the user's own plot stays.
    expect(dvcYaml.plots).toEqual(['reports/figure.png', ...OWN_DVC_YAML.plots]);
    expect(Object.keys(dvcYaml).sort()).toEqual(['metrics', 'params', 'plots', 'stages']);
  });
});
