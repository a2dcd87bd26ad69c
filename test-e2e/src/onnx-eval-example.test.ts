// examples/onnx-eval run as a user runs it (`node src/main.mjs`, a real process with
// onnxruntime-node), writing into a temporary LIVESTEP_DIR: two runs of one experiment whose
// metrics line up, DVCLive's sklearn plots, the model's metadata in params.yaml, and the
// printed comparison.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';

const exampleFolder = fileURLToPath(new URL('../../examples/onnx-eval/', import.meta.url));
/** The example evaluates 30 flowers twice; far less than this even on a slow machine. */
const EXAMPLE_TIMEOUT_MS = 60_000;
const RUNS = ['mlp', 'weak'];
const CLASSES = ['setosa', 'versicolor', 'virginica'];

let folder: string;
let stdout: string;

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

/** Leaf paths of metrics.json: `eval/accuracy`, `eval/precision/class=setosa`, ... */
function leafNames(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null) return [prefix];
  return Object.entries(value).flatMap(([key, child]) =>
    leafNames(child, prefix ? `${prefix}/${key}` : key),
  );
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, whose shape the assertions check
async function readJson(path: string): Promise<any> {
  return JSON.parse(await readFile(path, 'utf8'));
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'livestep-onnx-eval-'));
  const result = await promisify(execFile)(process.execPath, ['src/main.mjs'], {
    cwd: exampleFolder,
    env: { ...process.env, LIVESTEP_DIR: folder, LIVESTEP_URL: '', DVC_STUDIO_TOKEN: '' },
    timeout: EXAMPLE_TIMEOUT_MS,
  });
  stdout = result.stdout;
});

afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('examples/onnx-eval', () => {
  it('writes two runs whose metric and plot files line up', async () => {
    const files = await Promise.all(RUNS.map((run) => filesUnder(join(folder, run))));
    expect(files[0]).toEqual(files[1]);
    for (const name of ['metrics.json', 'params.yaml', 'dvc.yaml'])
      expect(files[0]).toContain(name);
    const metrics = await Promise.all(
      RUNS.map((run) => readJson(join(folder, run, 'metrics.json'))),
    );
    expect(leafNames(metrics[0]).sort()).toEqual(leafNames(metrics[1]).sort());
    for (const name of [
      'eval/accuracy',
      'eval/top_2_accuracy',
      'eval/log_loss',
      'eval/precision/macro',
      'eval/recall/micro',
      'eval/f1/weighted',
      'eval/f1/class=versicolor',
      'eval/latency/p50 (ms)',
      'eval/latency/p90 (ms)',
      'eval/latency/p99 (ms)',
      'eval/latency/mean (ms)',
      'eval/throughput (samples per second)',
      'eval/batch/latency (ms)',
    ]) {
      expect(leafNames(metrics[0])).toContain(name);
    }
    expect(metrics[0].eval.samples).toBe(30);
    expect(metrics[0].eval.accuracy).toBeGreaterThan(0.9);
    expect(metrics[1].eval.accuracy).toBeLessThan(metrics[0].eval.accuracy);
    // six batches of five: one latency row per batch, at steps 0..5
    const latencyRows = (
      await readFile(join(folder, 'mlp/plots/metrics/eval/batch/latency (ms).tsv'), 'utf8')
    )
      .trim()
      .split('\n');
    expect(latencyRows[0]).toBe('timestamp\tstep\tlatency (ms)');
    expect(latencyRows.slice(1).map((row) => row.split('\t')[1])).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
    ]);
  });

  it('writes the sklearn plots DVC reads: confusion matrix and one-vs-rest ROC, PR and calibration', async () => {
    const sklearn = join(folder, 'mlp/plots/sklearn/eval');
    const confusion = await readJson(join(sklearn, 'confusion_matrix.json'));
    expect(confusion).toHaveLength(30);
    expect(confusion[0]).toEqual({ actual: expect.any(String), predicted: expect.any(String) });
    for (const label of CLASSES) {
      const roc = await readJson(join(sklearn, `roc/class=${label}.json`));
      expect(roc.roc[0]).toEqual({ fpr: 0, tpr: 0, threshold: 'inf' });
      expect(roc.roc.at(-1)).toMatchObject({ fpr: 1, tpr: 1 });
      const pr = await readJson(join(sklearn, `precision_recall/class=${label}.json`));
      expect(pr.precision_recall[0]).toMatchObject({ recall: 1 });
      const calibration = await readJson(join(sklearn, `calibration/class=${label}.json`));
      expect(Object.keys(calibration.calibration[0]).sort()).toEqual(['prob_pred', 'prob_true']);
    }
    const dvcYaml = YAML.parse(await readFile(join(folder, 'mlp/dvc.yaml'), 'utf8'));
    expect(dvcYaml.plots).toContainEqual({
      'plots/sklearn/eval/confusion_matrix.json': expect.objectContaining({
        template: 'confusion',
      }),
    });
  });

  it('records the model metadata, session options and onnxruntime version in params.yaml', async () => {
    for (const run of RUNS) {
      const params = YAML.parse(await readFile(join(folder, run, 'params.yaml'), 'utf8'));
      expect(params.eval.task).toBe('classification');
      expect(params.eval.model).toMatchObject({
        fileName: `iris-${run}.onnx`,
        irVersion: 8,
        producer: { name: 'livestep-export-onnx' },
        opsets: { 'ai.onnx': 13 },
        inputs: { features: { type: 'float32', shape: ['batch', 4] } },
        outputs: { probabilities: { type: 'float32', shape: ['batch', 3] } },
      });
      expect(params.eval.model.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(params.eval.model.sizeBytes).toBeGreaterThan(0);
      expect(params.eval.session.executionProviders).toEqual(['cpu']);
      expect(params.eval.onnxruntime.version).toBe('1.30.0');
      expect(params.data).toMatchObject({ dataset: 'iris', samples: 30 });
    }
  });

  it('prints the comparison table and where the runs were written', () => {
    const lines = stdout.split('\n');
    expect(stdout).toContain('Experiment iris-onnx-eval: 2 runs on 30 validation flowers');
    expect(lines.find((line) => line.startsWith('metric'))).toMatch(/^metric\s+mlp\s+weak$/);
    const accuracy = lines.find((line) => line.startsWith('eval/accuracy'))!;
    const [mlp, weak] = accuracy.trim().split(/\s+/).slice(1).map(Number);
    expect(mlp).toBeGreaterThan(weak!);
    expect(lines.some((line) => line.startsWith('eval/latency/p99 (ms)'))).toBe(true);
    for (const run of RUNS) expect(stdout).toContain(join(folder, run));
    expect(existsSync(join(folder, 'dvc.yaml'))).toBe(false);
  });
});
