// examples/tfjs-fit run as a user runs it (`node src/main.mjs`, a real process training a tfjs
// model with one livestep callback), writing into a temporary LIVESTEP_DIR: DVCLive's metric
// TSVs, metrics.json, params.yaml, the sklearn plots and dvc.yaml, the printed summary, and the
// trained weights in the livestep-dense-classifier/1 format.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';

const exampleFolder = fileURLToPath(new URL('../../examples/tfjs-fit/', import.meta.url));
/** A few epochs of Iris take about a second; far less than this even on a slow machine. */
const EXAMPLE_TIMEOUT_MS = 60_000;
const EPOCHS = 4;
const CLASSES = ['setosa', 'versicolor', 'virginica'];
const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const EPOCH_METRICS = [
  'eval/acc',
  'eval/loss',
  'train/acc',
  'train/epoch_seconds',
  'train/learning_rate',
  'train/loss',
  'train/samples_per_second',
];

let folder: string;
let runFolder: string;
let modelPath: string;
let stdout: string;
let stderr: string;

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, whose shape the assertions check
async function readJson(path: string): Promise<any> {
  return JSON.parse(await readFile(path, 'utf8'));
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'livestep-tfjs-fit-'));
  runFolder = join(folder, 'run');
  modelPath = join(folder, 'model', 'iris-classifier.json');
  const result = await promisify(execFile)(process.execPath, ['src/main.mjs'], {
    cwd: exampleFolder,
    env: {
      ...process.env,
      LIVESTEP_DIR: runFolder,
      LIVESTEP_MODEL_PATH: modelPath,
      EPOCHS: String(EPOCHS),
      LIVESTEP_URL: '',
      DVC_STUDIO_TOKEN: '',
    },
    timeout: EXAMPLE_TIMEOUT_MS,
  });
  stdout = result.stdout;
  stderr = result.stderr;
});

afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('examples/tfjs-fit', () => {
  it('writes one TSV per epoch metric, with one row per epoch', async () => {
    const files = await filesUnder(runFolder);
    expect(files).toEqual(
      [
        'livestep.json',
        'metrics.json',
        'params.yaml',
        ...EPOCH_METRICS.map((name) => `plots/metrics/${name}.tsv`),
        'plots/sklearn/confusion_matrix.json',
        ...CLASSES.flatMap((name) => [
          `plots/sklearn/precision_recall/${name}.json`,
          `plots/sklearn/roc/${name}.json`,
        ]),
      ].sort(),
    );
    for (const name of EPOCH_METRICS) {
      const [header, ...rows] = (
        await readFile(join(runFolder, 'plots', 'metrics', `${name}.tsv`), 'utf8')
      )
        .trim()
        .split('\n');
      expect(header).toBe(`timestamp\tstep\t${name.split('/').at(-1)}`);
      expect(rows.map((row) => Number(row.split('\t')[1]))).toEqual([0, 1, 2, 3]);
      for (const row of rows) expect(Number.isFinite(Number(row.split('\t')[2]))).toBe(true);
    }
  });

  it('summarises the last epoch in metrics.json and the fit in params.yaml', async () => {
    const metrics = await readJson(join(runFolder, 'metrics.json'));
    expect(metrics.step).toBe(EPOCHS - 1);
    expect(Object.keys(metrics.train).sort()).toEqual(
      EPOCH_METRICS.filter((name) => name.startsWith('train/')).map((name) => name.slice(6)),
    );
    expect(Object.keys(metrics.eval).sort()).toEqual(['acc', 'loss']);

    const params = YAML.parse(await readFile(join(runFolder, 'params.yaml'), 'utf8'));
    expect(Object.keys(params).sort()).toEqual([
      'compile',
      'dataset',
      'fit',
      'model',
      'optimizer',
      'split',
      'tfjs',
    ]);
    expect(params.fit).toEqual({
      epochs: EPOCHS,
      initialEpoch: 0,
      batchSize: 16,
      samples: 120,
      steps: 8,
      validation: true,
      metrics: ['loss', 'acc', 'val_loss', 'val_acc'],
      // Every epoch ran: no early stop to record.
      stoppedEpoch: null,
    });
    expect(params.model).toMatchObject({
      class: 'Sequential',
      layers: 2,
      trainableParams: 4 * 12 + 12 + 12 * 3 + 3,
      nonTrainableParams: 0,
      inputShapes: [[null, 4]],
      outputShapes: [[null, 3]],
    });
    expect(params.optimizer).toMatchObject({ class: 'Adam', learningRate: 0.02 });
    expect(params.compile).toMatchObject({ loss: 'categoricalCrossentropy' });
    expect(params.tfjs).toMatchObject({ backend: 'wasm', version: '4.22.0' });
  });

  it("writes DVCLive's sklearn plots on the 30 validation flowers and lists them in dvc.yaml", async () => {
    const confusion = await readJson(join(runFolder, 'plots', 'sklearn', 'confusion_matrix.json'));
    expect(confusion).toHaveLength(30);
    expect(new Set(confusion.map((row: { actual: string }) => row.actual))).toEqual(
      new Set(CLASSES),
    );
    for (const name of CLASSES) {
      const roc = await readJson(join(runFolder, 'plots', 'sklearn', 'roc', `${name}.json`));
      expect(roc.roc[0]).toEqual({ fpr: 0, tpr: 0, threshold: 'inf' });
      expect(roc.roc.at(-1)).toMatchObject({ fpr: 1, tpr: 1 });
      const pr = await readJson(
        join(runFolder, 'plots', 'sklearn', 'precision_recall', `${name}.json`),
      );
      expect(pr.precision_recall[0]).toMatchObject({ recall: 1 });
    }

    const dvcYaml = YAML.parse(await readFile(join(folder, 'dvc.yaml'), 'utf8'));
    expect(dvcYaml.metrics).toEqual(['run/metrics.json']);
    expect(dvcYaml.params).toEqual(['run/params.yaml']);
    const plotPaths = dvcYaml.plots.map((entry: string | object) =>
      typeof entry === 'string' ? entry : Object.keys(entry)[0],
    );
    expect(plotPaths.sort()).toEqual(
      [
        'run/plots/metrics',
        'run/plots/sklearn/confusion_matrix.json',
        ...CLASSES.flatMap((name) => [
          `run/plots/sklearn/roc/${name}.json`,
          `run/plots/sklearn/precision_recall/${name}.json`,
        ]),
      ].sort(),
    );
    expect(dvcYaml.artifacts['iris-classifier']).toEqual({
      path: 'model/iris-classifier.json',
      type: 'model',
    });
  });

  it('prints where the run was recorded and its final metrics, without the tfjs-node hint', () => {
    expect(stdout).toContain(`recorded in ${runFolder}`);
    expect(stdout).toMatch(/train\/loss \d+\.\d{4} {2}train\/acc \d+\.\d{4}/);
    expect(stdout).toMatch(/eval\/loss {2}\d+\.\d{4} {2}eval\/acc {2}\d+\.\d{4}/);
    expect(stdout).toContain(`${EPOCHS} epochs`);
    expect(stdout + stderr).not.toContain('tfjs-node');
  });

  it('writes the trained weights as livestep-dense-classifier/1', async () => {
    const weights = await readJson(modelPath);
    expect(Object.keys(weights)).toEqual([
      'format',
      'featureNames',
      'classNames',
      'normalization',
      'layers',
    ]);
    expect(weights.format).toBe('livestep-dense-classifier/1');
    expect(weights.featureNames).toEqual(FEATURES);
    expect(weights.classNames).toEqual(CLASSES);
    expect(weights.normalization.mean).toHaveLength(4);
    expect(weights.normalization.std).toHaveLength(4);
    expect(
      weights.layers.map((layer: { units: number; activation: string }) => [
        layer.units,
        layer.activation,
      ]),
    ).toEqual([
      [12, 'relu'],
      [3, 'softmax'],
    ]);
    const [hidden, output] = weights.layers;
    expect(hidden.kernel).toHaveLength(4);
    for (const row of hidden.kernel) expect(row).toHaveLength(12);
    expect(hidden.bias).toHaveLength(12);
    expect(output.kernel).toHaveLength(12);
    for (const row of output.kernel) expect(row).toHaveLength(3);
    expect(output.bias).toHaveLength(3);
  });
});
