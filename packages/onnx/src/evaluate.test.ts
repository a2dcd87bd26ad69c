import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMemorySink,
  type PlotEvent,
  precisionRecallCurve,
  rocCurve,
  startRun,
} from '@livestep/core';
import { startTestRun } from '@livestep/test-support';
import type { InferenceSession } from 'onnxruntime-common';
import * as ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOG_LOSS_EPSILON } from './classification-metrics.js';
import { evaluate } from './evaluate.js';
import type { EvaluationBatch } from './evaluate-options.js';
import {
  buildModel,
  createTestSession,
  denseSoftmaxModel,
  identityModel,
  tensorOf,
} from './test-support/onnx-model-builder.js';

// Identity models output their input, so each test's feeds are the scores it reasons about;
// float64 keeps them exact.
let binarySession: InferenceSession;
let threeClassSession: InferenceSession;
let singleScoreSession: InferenceSession;
const folder = await mkdtemp(join(tmpdir(), 'livestep-onnx-evaluate-'));

beforeAll(async () => {
  binarySession = await createTestSession(identityModel({ width: 2, type: 'float64' }));
  threeClassSession = await createTestSession(identityModel({ width: 3, type: 'float64' }));
  singleScoreSession = await createTestSession(identityModel({ width: 0, type: 'float64' }));
});
afterAll(async () => {
  await Promise.all([binarySession, threeClassSession, singleScoreSession].map((s) => s.release()));
  await rm(folder, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Batches of `size` samples: feeds `input` (rows of scores) and the targets. */
function batches<Target>(
  rows: number[][] | number[],
  targets: Target[],
  size: number,
  toTargets: (part: Target[]) => EvaluationBatch['targets'] = (part) => part as never,
): EvaluationBatch[] {
  const result: EvaluationBatch[] = [];
  for (let start = 0; start < targets.length; start += size) {
    result.push({
      feeds: { input: tensorOf(rows.slice(start, start + size) as number[][], 'float64') },
      targets: toTargets(targets.slice(start, start + size)),
    });
  }
  return result;
}

function plots(events: Array<{ kind: string }>): Map<string, PlotEvent> {
  const found = new Map<string, PlotEvent>();
  for (const event of events)
    if (event.kind === 'plot') found.set((event as PlotEvent).name, event as PlotEvent);
  return found;
}

/** The params evaluate() records, as far as these tests read them. */
interface RecordedParams {
  eval: {
    task: string;
    scores: string;
    classLabels: string[];
    model: Record<string, unknown>;
    session?: Record<string, unknown>;
    onnxruntime: { version: string };
  };
}

// The imbalanced binary case of classification-metrics.test.ts: 8 negatives, 2 positives,
// predicted [0 0 0 0 0 0 0 1 | 1 0] with p(positive) 0.25 or 0.75.
const binaryTargets = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
const binaryPositive = [0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.25];
const binaryRows = binaryPositive.map((p) => [1 - p, p]);

describe('evaluate: classification', () => {
  it('binary probabilities: summary metrics, per-class series, per-batch steps and plot rows', async () => {
    const { run, sink } = startTestRun();
    const result = await evaluate(binarySession, batches(binaryRows, binaryTargets, 4), {
      task: 'classification',
      classLabels: ['negative', 'positive'],
      run,
      warmupRuns: 0,
    });
    await run.end();

    expect(result.samples).toBe(10);
    expect(result.batches).toBe(3);
    const metrics = result.metrics;
    expect(metrics['eval/samples']).toBe(10);
    expect(metrics['eval/accuracy']).toBe(0.8);
    expect(metrics['eval/log_loss']).toBeCloseTo(
      -(8 * Math.log(0.75) + 2 * Math.log(0.25)) / 10,
      12,
    );
    expect(metrics['eval/precision/macro']).toBeCloseTo(11 / 16, 12);
    expect(metrics['eval/recall/weighted']).toBeCloseTo(0.8, 12);
    expect(metrics['eval/f1/micro']).toBeCloseTo(0.8, 12);
    expect(metrics['eval/precision/class=negative']).toBe(7 / 8);
    expect(metrics['eval/recall/class=positive']).toBe(1 / 2);
    // two classes: no top-5
    expect(Object.keys(metrics).some((name) => name.includes('top_'))).toBe(false);
    // of the positive class, as scikit-learn's roc_auc_score and average_precision_score
    expect(metrics['eval/roc_auc']).toBe(11 / 16);
    expect(metrics['eval/average_precision']).toBeCloseTo(0.35, 15);

    // per batch, at steps 0, 1, 2: latency and throughput = samples / latency
    const latencies = sink.metrics('eval/batch/latency (ms)');
    const throughputs = sink.metrics('eval/batch/throughput (samples per second)');
    expect(latencies.map((event) => event.step)).toEqual([0, 1, 2]);
    expect(throughputs.map((event) => event.step)).toEqual([0, 1, 2]);
    [4, 4, 2].forEach((size, index) => {
      const latency = latencies[index]!.value as number;
      expect(latency).toBeGreaterThan(0);
      expect(throughputs[index]!.value).toBeCloseTo(size / (latency / 1000), 6);
    });

    // per-class values are series labelled by class
    const perClass = sink.metrics('eval/precision').map((event) => [event.labels, event.value]);
    expect(perClass).toEqual([
      [{ class: 'negative' }, 7 / 8],
      [{ class: 'positive' }, 1 / 2],
    ]);
    expect(sink.metrics('eval/accuracy')[0]!.step).toBe(0);

    const recorded = plots(sink.events);
    expect([...recorded.keys()].sort()).toEqual([
      'eval/calibration',
      'eval/confusion_matrix',
      'eval/precision_recall',
      'eval/roc',
    ]);
    expect(recorded.get('eval/confusion_matrix')!.rows).toEqual([
      { actual: 'negative', predicted: 'negative', count: 7 },
      { actual: 'negative', predicted: 'positive', count: 1 },
      { actual: 'positive', predicted: 'positive', count: 1 },
      { actual: 'positive', predicted: 'negative', count: 1 },
    ]);
    // p(positive) 0.75: one positive, one negative; 0.25: one positive, seven negatives
    expect(recorded.get('eval/roc')!.rows).toEqual([
      { fpr: 0, tpr: 0, threshold: 'inf' },
      { fpr: 1 / 8, tpr: 1 / 2, threshold: 0.75 },
      { fpr: 1, tpr: 1, threshold: 0.25 },
    ]);
    expect(recorded.get('eval/precision_recall')!.rows).toEqual([
      { precision: 2 / 10, recall: 1, threshold: 0.25 },
      { precision: 1 / 2, recall: 1 / 2, threshold: 0.75 },
    ]);
    expect(recorded.get('eval/calibration')!.rows).toEqual([
      { prob_true: 1 / 8, prob_pred: 0.25 },
      { prob_true: 1 / 2, prob_pred: 0.75 },
    ]);

    const params = sink.params() as unknown as RecordedParams;
    expect(params.eval.task).toBe('classification');
    expect(params.eval.scores).toBe('probabilities');
    expect(params.eval.classLabels).toEqual(['negative', 'positive']);
    expect(params.eval.model.inputs).toEqual({ input: { type: 'float64', shape: ['batch', 2] } });
    expect(params.eval.model.outputs).toEqual({ scores: { type: 'float64', shape: ['batch', 2] } });
    expect(params.eval.onnxruntime.version).toBe('1.30.0');
    // a session the caller created: its options are unknown unless told
    expect(params.eval.session).toBeUndefined();
  });

  it('multi-class logits with class-label targets: one-vs-rest curves and top-k with ties', async () => {
    // The multi-class case of classification-metrics.test.ts, given as logits: softmax of
    // ln 0.5, ln 0.25, ln 0.25 is 0.5, 0.25, 0.25.
    const labels = ['a', 'b', 'c'];
    const targets = ['a', 'a', 'a', 'a', 'b', 'b', 'c'];
    const predicted = [0, 0, 0, 1, 1, 2, 2];
    const logits = predicted.map((p) => [0, 1, 2].map((c) => Math.log(c === p ? 0.5 : 0.25)));
    const { run, sink } = startTestRun();
    const result = await evaluate(threeClassSession, batches(logits, targets, 3), {
      task: 'classification',
      classLabels: labels,
      topK: [2, 5],
      run,
    });
    await run.end();
    const metrics = result.metrics;
    expect(metrics['eval/accuracy']).toBeCloseTo(5 / 7, 12);
    expect(metrics['eval/top_2_accuracy']).toBeCloseTo(6 / 7, 12);
    expect(metrics['eval/top_5_accuracy']).toBeUndefined();
    expect(metrics['eval/log_loss']).toBeCloseTo(-(5 * Math.log(0.5) + 2 * Math.log(0.25)) / 7, 9);
    expect(metrics['eval/f1/macro']).toBeCloseTo((6 / 7 + 1 / 2 + 2 / 3) / 3, 9);
    expect(metrics['eval/precision/class=a']).toBeCloseTo(1, 12);
    expect(metrics['eval/recall/class=c']).toBeCloseTo(1, 12);
    expect((sink.params() as { eval: { scores: string } }).eval.scores).toBe('logits');
    // one-vs-rest, counted by hand from the scores (ties count half)
    expect(metrics['eval/roc_auc/class=a']).toBeCloseTo(10.5 / 12, 12);
    expect(metrics['eval/roc_auc/class=b']).toBeCloseTo(6.5 / 10, 12);
    expect(metrics['eval/roc_auc/class=c']).toBeCloseTo(5.5 / 6, 12);
    expect(metrics['eval/roc_auc/macro']).toBeCloseTo((10.5 / 12 + 6.5 / 10 + 5.5 / 6) / 3, 12);
    expect(metrics['eval/average_precision/class=c']).toBeCloseTo(0.5, 12);
    expect(sink.metrics('eval/roc_auc').map((event) => event.labels)).toEqual([
      { class: 'a' },
      { class: 'b' },
      { class: 'c' },
    ]);

    const recorded = plots(sink.events);
    for (const curve of ['roc', 'precision_recall', 'calibration']) {
      for (const label of labels) expect(recorded.has(`eval/${curve}/class=${label}`)).toBe(true);
    }
    // class c against the rest: its one sample scores 0.5, as does sample 5 (a b); the others 0.25
    const rocOfC = recorded.get('eval/roc/class=c')!.rows;
    expect(rocOfC).toHaveLength(3);
    expect(rocOfC[1]).toMatchObject({ fpr: 1 / 6, tpr: 1 });
    expect(rocOfC[1]!.threshold).toBeCloseTo(0.5, 12);
    expect(rocOfC[2]).toMatchObject({ fpr: 1, tpr: 1 });
  });

  it('ROC-AUC and average precision with plots off; a class absent from the targets is left out, with a warning', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const scores = [
      [0.8, 0.1, 0.1],
      [0.6, 0.3, 0.1],
      [0.2, 0.7, 0.1],
      [0.3, 0.6, 0.1],
    ];
    const { run, sink } = startTestRun();
    const result = await evaluate(
      threeClassSession,
      [{ feeds: { input: tensorOf(scores, 'float64') }, targets: [0, 1, 0, 1] }],
      { task: 'classification', plots: false, classLabels: ['a', 'b', 'c'], run },
    );
    await run.end();
    expect(plots(sink.events).size).toBe(0);
    // a: positives score 0.8 and 0.2, negatives 0.3 and 0.6: 2 of 4 pairs ranked right
    expect(result.metrics['eval/roc_auc/class=a']).toBe(0.5);
    expect(result.metrics['eval/roc_auc/class=b']).toBe(0.5);
    expect(result.metrics['eval/roc_auc/class=c']).toBeUndefined();
    expect(result.metrics['eval/roc_auc/macro']).toBe(0.5);
    expect(warnings).toHaveBeenCalledWith(
      expect.stringContaining(
        'records no roc_auc of class c, average_precision of class c: the targets hold no sample of that class',
      ),
      expect.anything(),
    );
  });

  it('thins ROC and PR of 50,000 samples x 3 classes to the points that change the shape', async () => {
    // A fair classifier: the true class's logit is 2 higher, plus uniform noise.
    let seed = 11;
    const random = () => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const samples = 50_000;
    const targets = Array.from({ length: samples }, () => Math.floor(random() * 3));
    const logits = targets.map((target) =>
      [0, 1, 2].map((column) => (column === target ? 2 : 0) + 4 * random()),
    );
    const data = [];
    for (let start = 0; start < samples; start += 5_000) {
      data.push({
        feeds: { input: tensorOf(logits.slice(start, start + 5_000), 'float64') },
        targets: targets.slice(start, start + 5_000),
      });
    }
    const { run, sink } = startTestRun();
    await evaluate(threeClassSession, data, { task: 'classification', run, warmupRuns: 0 });
    await run.end();
    const recorded = plots(sink.events);
    let thinned = 0;
    let full = 0;
    for (const [index, label] of ['0', '1', '2'].entries()) {
      const positives = targets.map((target) => target === index);
      const softmax = logits.map((row) => {
        const exponentials = row.map(Math.exp);
        return exponentials[index]! / exponentials.reduce((a, b) => a + b);
      });
      full +=
        JSON.stringify(rocCurve(positives, softmax).rows).length +
        JSON.stringify(precisionRecallCurve(positives, softmax).rows).length;
      thinned +=
        JSON.stringify(recorded.get(`eval/roc/class=${label}`)!.rows).length +
        JSON.stringify(recorded.get(`eval/precision_recall/class=${label}`)!.rows).length;
    }
    expect(full).toBeGreaterThan(20_000_000);
    expect(thinned).toBeLessThan(full / 3);
  });

  it('one score per sample: a logit through a sigmoid; int64 targets; a tie at 0.5 predicts class 0', async () => {
    const logits = [0, 2, -2];
    const { run } = startTestRun();
    const result = await evaluate(
      singleScoreSession,
      [
        {
          feeds: { input: tensorOf(logits, 'float64') },
          targets: BigInt64Array.from([1n, 1n, 0n]),
        },
      ],
      { task: 'classification', scores: 'logits', run },
    );
    await run.end();
    const sigmoid = (value: number) => 1 / (1 + Math.exp(-value));
    expect(result.metrics['eval/accuracy']).toBeCloseTo(2 / 3, 12);
    expect(result.metrics['eval/log_loss']).toBeCloseTo(
      -(Math.log(0.5) + Math.log(sigmoid(2)) + Math.log(1 - sigmoid(-2))) / 3,
      12,
    );
    expect(result.metrics['eval/precision/class=1']).toBe(1);
    expect(result.metrics['eval/recall/class=1']).toBe(1 / 2);
  });

  it('perfect and all-wrong predictions', async () => {
    const perfect = await evaluate(
      binarySession,
      [
        {
          feeds: {
            input: tensorOf(
              [
                [1, 0],
                [0, 1],
              ],
              'float64',
            ),
          },
          targets: [0, 1],
        },
      ],
      { task: 'classification', run: startTestRun().run },
    );
    expect(perfect.metrics['eval/accuracy']).toBe(1);
    expect(perfect.metrics['eval/f1/macro']).toBe(1);
    const wrong = await evaluate(
      binarySession,
      [
        {
          feeds: {
            input: tensorOf(
              [
                [0, 1],
                [1, 0],
              ],
              'float64',
            ),
          },
          targets: [0, 1],
        },
      ],
      { task: 'classification', run: startTestRun().run },
    );
    expect(wrong.metrics['eval/accuracy']).toBe(0);
    expect(wrong.metrics['eval/f1/macro']).toBe(0);
    expect(wrong.metrics['eval/log_loss']).toBeCloseTo(-Math.log(LOG_LOSS_EPSILON), 9);
  });
});

describe('evaluate: targets in every form the README allows', () => {
  it('one-hot targets as JS arrays of rows score as a [n, 3] tensor does', async () => {
    const scores = [
      [0.8, 0.1, 0.1],
      [0.1, 0.8, 0.1],
      [0.1, 0.1, 0.8],
    ];
    const oneHot = [
      [1, 0, 0],
      [0, 0, 1],
      [0, 0, 1],
    ];
    const feeds = { input: tensorOf(scores, 'float64') };
    const asRows = await evaluate(threeClassSession, [{ feeds, targets: oneHot }], {
      task: 'classification',
      run: startTestRun().run,
    });
    const asTensor = await evaluate(
      threeClassSession,
      [{ feeds, targets: tensorOf(oneHot, 'float64') }],
      { task: 'classification', run: startTestRun().run },
    );
    expect(asRows.metrics['eval/accuracy']).toBeCloseTo(2 / 3, 12);
    const scored = (metrics: Record<string, number>) =>
      Object.entries(metrics).filter(([name]) => !/latency|throughput/.test(name));
    expect(scored(asRows.metrics)).toEqual(scored(asTensor.metrics));
  });

  it('regression targets as rows, the form custom metrics receive them in', async () => {
    const result = await evaluate(
      singleScoreSession,
      [{ feeds: { input: tensorOf([1, 1.5], 'float64') }, targets: [[1], [1.2]] }],
      { task: 'regression', run: startTestRun().run },
    );
    expect(result.metrics['eval/mae']).toBeCloseTo(0.15, 12);
  });
});

describe('evaluate: regression, custom metrics, no task', () => {
  it('regression metrics and a custom metric over two batches', async () => {
    const predictions = [2.5, 0, 2, 8];
    const targets = [3, -0.5, 2, 7];
    const seen: unknown[] = [];
    const { run, sink } = startTestRun();
    const result = await evaluate(
      singleScoreSession,
      [0, 2].map((start) => ({
        feeds: { input: tensorOf(predictions.slice(start, start + 2), 'float64') },
        targets: Float64Array.from(targets.slice(start, start + 2)),
      })),
      {
        task: 'regression',
        run,
        metrics: {
          max_error: (samples) => {
            seen.push(samples);
            return Math.max(
              ...samples.predictions.map((row, index) =>
                Math.abs(row[0]! - (samples.targets[index] as number[])[0]!),
              ),
            );
          },
        },
      },
    );
    await run.end();
    expect(result.metrics['eval/mae']).toBeCloseTo(0.5, 12);
    expect(result.metrics['eval/mse']).toBeCloseTo(0.375, 12);
    expect(result.metrics['eval/rmse']).toBeCloseTo(Math.sqrt(0.375), 12);
    expect(result.metrics['eval/r2']).toBeCloseTo(1 - 1.5 / 29.1875, 12);
    expect(result.metrics['eval/max_error']).toBe(1);
    expect(seen).toEqual([
      { predictions: [[2.5], [0], [2], [8]], targets: [[3], [-0.5], [2], [7]] },
    ]);
    expect(sink.metrics('eval/max_error')).toHaveLength(1);
    // scikit-learn's PredictionErrorDisplay: predicted against actual, residuals against predicted
    const recorded = plots(sink.events);
    expect([...recorded.keys()].sort()).toEqual(['eval/predicted_vs_actual', 'eval/residuals']);
    expect(recorded.get('eval/predicted_vs_actual')).toMatchObject({
      plotKind: 'scatter',
      x: 'actual',
      y: 'predicted',
      rows: targets.map((actual, index) => ({ actual, predicted: predictions[index] })),
    });
    expect(recorded.get('eval/residuals')).toMatchObject({
      plotKind: 'scatter',
      x: 'predicted',
      y: 'residual',
      rows: [
        { predicted: 2.5, residual: 0.5 },
        { predicted: 0, residual: -0.5 },
        { predicted: 2, residual: 0 },
        { predicted: 8, residual: -1 },
      ],
    });
  });

  it('task none: an async iterable without targets gives latency and custom metrics', async () => {
    async function* feeds() {
      for (let index = 0; index < 3; index++) {
        yield { feeds: { input: tensorOf([index, index], 'float64') } };
      }
    }
    const { run } = startTestRun();
    const result = await evaluate(singleScoreSession, feeds(), {
      task: 'none',
      run,
      metrics: { mean_output: ({ predictions }) => predictions.flat().reduce((a, b) => a + b) / 6 },
    });
    expect(result.samples).toBe(6);
    expect(result.metrics['eval/mean_output']).toBe(1);
    expect(result.metrics['eval/accuracy']).toBeUndefined();
    expect(Object.keys(result.metrics).sort()).toEqual([
      'eval/latency/mean (ms)',
      'eval/latency/p50 (ms)',
      'eval/latency/p90 (ms)',
      'eval/latency/p99 (ms)',
      'eval/mean_output',
      'eval/samples',
      'eval/throughput (samples per second)',
    ]);
  });

  it('latency statistics and throughput from the timed calls', async () => {
    // A session whose calls take 4, 1, 3 and 2 ms by the clock, 2 samples each.
    const output = { type: 'float32', dims: [2], data: Float32Array.from([1, 2]) };
    const session = {
      inputNames: ['x'],
      outputNames: ['y'],
      run: vi.fn(async () => ({ y: output })),
      release: async () => {},
    } as unknown as InferenceSession;
    const clock = [0, 4, 10, 11, 20, 23, 30, 32];
    vi.spyOn(performance, 'now').mockImplementation(() => clock.shift() ?? 100);
    const { run, sink } = startTestRun();
    const data = Array.from({ length: 4 }, () => ({ feeds: {} }));
    const result = await evaluate(session, data, { task: 'none', run, warmupRuns: 2 });
    vi.restoreAllMocks();
    await run.end();
    expect(session.run).toHaveBeenCalledTimes(6);
    expect(sink.metrics('eval/batch/latency (ms)').map((event) => event.value)).toEqual([
      4, 1, 3, 2,
    ]);
    expect(
      sink.metrics('eval/batch/throughput (samples per second)').map((event) => event.value),
    ).toEqual([500, 2000, 2 / 0.003, 1000]);
    expect(result.metrics['eval/latency/mean (ms)']).toBe(2.5);
    expect(result.metrics['eval/latency/p50 (ms)']).toBe(2.5);
    expect(result.metrics['eval/latency/p90 (ms)']).toBeCloseTo(3.7, 12);
    expect(result.metrics['eval/latency/p99 (ms)']).toBeCloseTo(3.97, 12);
    expect(result.metrics['eval/throughput (samples per second)']).toBe(800);
  });
});

describe('evaluate: runs, model files and comparisons', () => {
  it('starts and ends its own run; a model path is loaded, described and hashed', async () => {
    const bytes = identityModel({ width: 2 });
    const path = join(folder, 'identity.onnx');
    await writeFile(path, bytes);
    const sink = createMemorySink();
    const result = await evaluate(
      path,
      [{ feeds: { input: tensorOf([[0.2, 0.8]]) }, targets: [1] }],
      {
        task: 'classification',
        run: {
          experiment: 'files',
          name: 'identity',
          sinks: [sink],
          exitHooks: false,
          collectGit: false,
        },
        sessionOptions: { intraOpNumThreads: 1, graphOptimizationLevel: 'basic' },
      },
    );
    expect(result.run.status).toBe('completed');
    expect(sink.events.at(-1)).toMatchObject({ kind: 'done', status: 'completed' });
    const params = sink.params() as unknown as RecordedParams;
    expect(params.eval.model).toMatchObject({
      path,
      fileName: 'identity.onnx',
      sizeBytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      irVersion: 8,
      producer: { name: 'livestep-test', version: '1.0.0' },
      opsets: { 'ai.onnx': 13 },
      graph: { name: 'test-graph', nodes: 1, operators: { Identity: 1 } },
      inputs: { input: { type: 'float32', shape: ['batch', 2] } },
    });
    expect(params.eval.session).toEqual({
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      graphOptimizationLevel: 'basic',
    });
    expect(params.eval.onnxruntime).toEqual({
      version: '1.30.0',
      packages: { common: '1.30.0', node: '1.30.0' },
    });
  });

  it("takes the model's class_names metadata as the default class labels", async () => {
    const withNames = (classNames: string) =>
      buildModel({
        inputs: [{ name: 'input', shape: ['batch', 3], type: 'float64' }],
        outputs: [{ name: 'scores', shape: ['batch', 3], type: 'float64' }],
        nodes: [{ opType: 'Identity', inputs: ['input'], outputs: ['scores'] }],
        metadata: { class_names: classNames },
      });
    const path = join(folder, 'iris-named.onnx');
    await writeFile(path, withNames('setosa,versicolor,virginica'));
    const data = () => [
      {
        feeds: {
          input: tensorOf(
            [
              [0.8, 0.1, 0.1],
              [0.1, 0.8, 0.1],
              [0.1, 0.1, 0.8],
            ],
            'float64',
          ),
        },
        targets: ['setosa', 'versicolor', 'versicolor'],
      },
    ];
    const { run, sink } = startTestRun();
    const result = await evaluate(path, data(), { task: 'classification', run });
    await run.end();
    expect(result.metrics['eval/recall/class=versicolor']).toBe(0.5);
    expect(sink.params()).toMatchObject({
      eval: {
        classLabels: ['setosa', 'versicolor', 'virginica'],
        classLabelsFrom: 'model metadata class_names',
      },
    });
    // A session of your own: its modelFile says the names; a JSON array works too.
    const session = await createTestSession(withNames('["a", "b", "c"]'));
    const own = await evaluate(session, [{ ...data()[0]!, targets: ['a', 'b', 'b'] }], {
      task: 'classification',
      modelFile: withNames('["a", "b", "c"]'),
      run: startTestRun().run,
    });
    await session.release();
    expect(own.metrics['eval/precision/class=b']).toBe(1);
    // classLabels you pass win over the metadata.
    const given = await evaluate(path, [{ ...data()[0]!, targets: [0, 1, 1] }], {
      task: 'classification',
      classLabels: ['x', 'y', 'z'],
      run: startTestRun().run,
    });
    expect(given.metrics['eval/recall/class=y']).toBe(0.5);
  });

  it('names classes by index, with a warning, when class_names does not fit the model', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const bytes = buildModel({
      inputs: [{ name: 'input', shape: ['batch', 2], type: 'float64' }],
      outputs: [{ name: 'scores', shape: ['batch', 2], type: 'float64' }],
      nodes: [{ opType: 'Identity', inputs: ['input'], outputs: ['scores'] }],
      metadata: { class_names: 'a,b,c' },
    });
    const result = await evaluate(
      bytes,
      [{ feeds: { input: tensorOf([[0.3, 0.7]], 'float64') }, targets: [1] }],
      {
        task: 'classification',
        run: startTestRun().run,
      },
    );
    expect(result.metrics['eval/recall/class=1']).toBe(1);
    expect(warnings).toHaveBeenCalledWith(
      expect.stringContaining('"class_names" names 3 classes, but the model scores 2'),
      expect.anything(),
    );
  });

  it('ends its own run as failed, with the error, when the data throws', async () => {
    const sink = createMemorySink();
    function* failing(): Generator<EvaluationBatch> {
      yield { feeds: { input: tensorOf([[0.5, 0.5]], 'float64') }, targets: [0] };
      throw new Error('disk gone');
    }
    await expect(
      evaluate(binarySession, failing(), {
        task: 'classification',
        run: { sinks: [sink], exitHooks: false, collectGit: false },
      }),
    ).rejects.toThrow('disk gone');
    expect(sink.events.at(-1)).toMatchObject({
      kind: 'done',
      status: 'failed',
      error: { message: 'disk gone' },
    });
  });

  it('two models on the same data: two runs of one experiment whose metrics line up', async () => {
    const features = [
      [1, 0],
      [0, 1],
      [1, 1],
      [0, 0],
    ];
    const targets = [0, 1, 1, 0];
    // good: right on 3 of 4 (the tie at [1, 1] goes to class 0); weak, its classes swapped: 1 of 4
    const good = await createTestSession(
      denseSoftmaxModel(
        [
          [4, -4],
          [-4, 4],
        ],
        [0, 0],
      ),
    );
    const weak = await createTestSession(
      denseSoftmaxModel(
        [
          [0, 1],
          [1, 0],
        ],
        [0, 0],
      ),
    );
    const data = () => [{ feeds: { features: tensorOf(features) }, targets }];
    const sinks = [createMemorySink(), createMemorySink()];
    const results = [];
    for (const [index, session] of [good, weak].entries()) {
      results.push(
        await evaluate(session, data(), {
          task: 'classification',
          run: {
            experiment: 'compare',
            name: index === 0 ? 'good' : 'weak',
            sinks: [sinks[index]!],
            exitHooks: false,
            collectGit: false,
          },
        }),
      );
    }
    await Promise.all([good.release(), weak.release()]);
    expect(results.map((result) => result.run.experiment)).toEqual(['compare', 'compare']);
    expect(Object.keys(results[0]!.metrics).sort()).toEqual(
      Object.keys(results[1]!.metrics).sort(),
    );
    const names = (index: number) =>
      [
        ...new Set(
          sinks[index]!.events.flatMap((event) =>
            event.kind === 'metric' || event.kind === 'plot' ? [`${event.kind}:${event.name}`] : [],
          ),
        ),
      ].sort();
    expect(names(0)).toEqual(names(1));
    expect(names(0)).toContain('metric:eval/accuracy');
    expect(results[0]!.metrics['eval/accuracy']).toBe(3 / 4);
    expect(results[1]!.metrics['eval/accuracy']).toBe(1 / 4);
  });
});

describe('evaluate: custom metrics, topK and options in plain JavaScript', () => {
  const one = () => [{ feeds: { input: tensorOf([[0.2, 0.3, 0.5]], 'float64') }, targets: [2] }];

  it('refuses a custom metric named like a built-in one, before running anything', async () => {
    const run = vi.fn();
    const session = { ...threeClassSession, run } as unknown as InferenceSession;
    await expect(
      evaluate(session, one(), { task: 'classification', metrics: { accuracy: () => 1 } }),
    ).rejects.toThrow(
      'option "metrics.accuracy" would be recorded as "eval/accuracy", which clashes with "eval/accuracy" that evaluate() records itself; give it another name, such as "custom_accuracy"',
    );
    await expect(
      evaluate(session, one(), { task: 'classification', metrics: { latency: () => 1 } }),
    ).rejects.toThrow(/clashes with "eval\/latency\/mean \(ms\)"/);
    await expect(
      evaluate(session, one(), { task: 'regression', metrics: { 'r2/adjusted': () => 1 } }),
    ).rejects.toThrow(/clashes with "eval\/r2"/);
    expect(run).not.toHaveBeenCalled();
  });

  it('awaits an async custom metric, and names one that returns no number', async () => {
    const result = await evaluate(threeClassSession, one(), {
      task: 'classification',
      run: startTestRun().run,
      metrics: { slow_score: async ({ predictions }) => predictions[0]![2]! },
    });
    expect(result.metrics['eval/slow_score']).toBe(0.5);
    await expect(
      evaluate(threeClassSession, one(), {
        task: 'classification',
        run: startTestRun().run,
        metrics: { broken: (() => ({ value: 1 })) as never },
      }),
    ).rejects.toThrow(
      'custom metric "broken" returned an object; return a number (or a promise of one)',
    );
  });

  it('warns when a topK you asked for is at or above the number of classes', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { run, sink } = startTestRun();
    const result = await evaluate(threeClassSession, one(), {
      task: 'classification',
      topK: [2, 3, 5],
      run,
    });
    await run.end();
    expect(result.metrics['eval/top_2_accuracy']).toBe(1);
    expect(result.metrics['eval/top_3_accuracy']).toBeUndefined();
    const message =
      'option "topK" asks for top-3, top-5 accuracy, but the model scores 3 classes, where top-k of k >= 3 is always 1, so it is not recorded; pass k below 3';
    expect(warnings).toHaveBeenCalledWith(expect.stringContaining(message), expect.anything());
    expect(
      sink.events.some((event) => event.kind === 'annotation' && event.text.includes(message)),
    ).toBe(true);
    // The default topK ([5]) on a 3-class model is documented, not a warning.
    warnings.mockClear();
    await evaluate(threeClassSession, one(), { task: 'classification', run: startTestRun().run });
    expect(warnings).not.toHaveBeenCalledWith(expect.stringContaining('topK'), expect.anything());
  });

  it('warns about an option it does not know (plain JavaScript), naming the one meant', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    await evaluate(threeClassSession, one(), {
      task: 'classification',
      run: startTestRun().run,
      classlabels: ['a', 'b', 'c'],
      colour: 'red',
    } as never);
    const messages = warnings.mock.calls.map(([message]) => String(message));
    expect(messages.filter((message) => message.includes('ignores the option'))).toEqual([
      'livestep: evaluate() ignores the option "classlabels", which it does not know; did you mean "classLabels"?',
      expect.stringMatching(
        /^livestep: evaluate\(\) ignores the option "colour", which it does not know; the options are task, run, prefix, /,
      ),
    ]);
  });
});

describe('evaluate: NaN and Infinity outputs, for every task', () => {
  const threeScores = (rows: number[][]) => [
    { feeds: { input: tensorOf([[0, 1, 2]], 'float64') }, targets: [2] },
    { feeds: { input: tensorOf(rows, 'float64') }, targets: rows.map(() => 0) },
  ];

  it('fails a classification on a NaN logit, naming batch, output and sample, with plots off', async () => {
    const { run, sink } = startTestRun();
    await expect(
      evaluate(
        threeClassSession,
        threeScores([
          [1, 2, 3],
          [1, Number.NaN, 3],
        ]),
        {
          task: 'classification',
          plots: false,
          run: { sinks: [sink], exitHooks: false, collectGit: false },
        },
      ),
    ).rejects.toThrow(
      /output "scores" of batch 1 is NaN at sample 1 \(value 1 of that sample\); classification metrics of NaN or Infinity mean nothing/,
    );
    expect(sink.events.at(-1)).toMatchObject({ kind: 'done', status: 'failed' });
    await run.end();
  });

  it('says Infinity for an Infinity logit, with plots on, and never names an internal function', async () => {
    const failure = evaluate(threeClassSession, threeScores([[Number.POSITIVE_INFINITY, 0, 0]]), {
      task: 'classification',
      run: startTestRun().run,
    });
    await expect(failure).rejects.toThrow(/of batch 1 is Infinity at sample 0/);
    await expect(failure).rejects.not.toThrow(/rocCurve/);
  });

  it('fails a regression on a NaN prediction instead of completing with NaN metrics', async () => {
    await expect(
      evaluate(
        singleScoreSession,
        [{ feeds: { input: tensorOf([1, Number.NaN], 'float64') }, targets: [1, 2] }],
        { task: 'regression', run: startTestRun().run },
      ),
    ).rejects.toThrow(/output "scores" of batch 0 is NaN at sample 1; regression metrics/);
  });

  it('refuses NaN in probabilities, and takes -Infinity logits as a probability of 0', async () => {
    await expect(
      evaluate(
        threeClassSession,
        [{ feeds: { input: tensorOf([[0.5, Number.NaN, 0.5]], 'float64') }, targets: [0] }],
        { task: 'classification', scores: 'probabilities', run: startTestRun().run },
      ),
    ).rejects.toThrow(/of batch 0 is NaN at sample 0 \(value 1 of that sample\)/);
    const logProbabilities = [[Math.log(0.5), Math.log(0.5), Number.NEGATIVE_INFINITY]];
    const result = await evaluate(
      threeClassSession,
      [{ feeds: { input: tensorOf(logProbabilities, 'float64') }, targets: [0] }],
      { task: 'classification', run: startTestRun().run },
    );
    expect(result.metrics['eval/log_loss']).toBeCloseTo(Math.log(2), 12);
    await expect(
      evaluate(
        threeClassSession,
        [
          {
            feeds: { input: tensorOf([[-Infinity, -Infinity, -Infinity]], 'float64') },
            targets: [0],
          },
        ],
        { task: 'classification', run: startTestRun().run },
      ),
    ).rejects.toThrow(/only -Infinity logits in sample 0/);
  });

  it('task none: completes, with a warning that names the batch and output', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { run, sink } = startTestRun();
    const result = await evaluate(
      singleScoreSession,
      [
        { feeds: { input: tensorOf([1, 2], 'float64') } },
        { feeds: { input: tensorOf([Number.NaN, 2], 'float64') } },
      ],
      { task: 'none', run },
    );
    await run.end();
    expect(result.samples).toBe(4);
    const message = 'output "scores" of batch 1 is NaN at sample 0';
    expect(warnings).toHaveBeenCalledWith(expect.stringContaining(message), expect.anything());
    expect(
      sink.events.some((event) => event.kind === 'annotation' && event.text.includes(message)),
    ).toBe(true);
  });
});

describe('evaluate: model files and repeated evaluations into one run', () => {
  it('refuses a modelFile that is not the model of the session', async () => {
    const sink = createMemorySink();
    await expect(
      evaluate(
        binarySession,
        [{ feeds: { input: tensorOf([[0.5, 0.5]], 'float64') }, targets: [0] }],
        {
          task: 'classification',
          modelFile: denseSoftmaxModel(
            [
              [1, 0],
              [0, 1],
            ],
            [0, 0],
          ),
          run: { sinks: [sink], exitHooks: false, collectGit: false },
        },
      ),
    ).rejects.toThrow(
      /option "modelFile" \(\d+ bytes\) is not the session's model: its graph's inputs are features and outputs probabilities; the session's inputs are input and outputs scores; pass the file the session was created from, or leave modelFile out/,
    );
    expect(sink.events.at(-1)).toMatchObject({ kind: 'done', status: 'failed' });
    // The right file is taken.
    const result = await evaluate(
      binarySession,
      [{ feeds: { input: tensorOf([[0.5, 0.5]], 'float64') }, targets: [0] }],
      {
        task: 'classification',
        modelFile: identityModel({ width: 2, type: 'float64' }),
        run: startTestRun().run,
      },
    );
    expect(result.samples).toBe(1);
  });

  // metrics.json's `step` is the highest step of any series (core's directory sink), so the
  // per-batch series put it past the step of the summary. DVCLive writes the step of the summary.
  // The directory sink's metrics.json step is the step of the last metric logged, as DVCLive's
  // summary, not the highest step of any series (eval/batch/* runs ahead of the summary).
  it("metrics.json's step is the step of the evaluation's summary", async () => {
    const directory = join(folder, 'epochs');
    const run = startRun({
      experiment: 'epochs',
      name: 'epochs',
      directory,
      exitHooks: false,
      collectGit: false,
      collectMachine: false,
    });
    run.nextStep();
    run.nextStep();
    await evaluate(binarySession, batches(binaryRows, binaryTargets, 2), {
      task: 'classification',
      run,
      warmupRuns: 0,
    });
    await run.end();
    const metrics = JSON.parse(await readFile(join(directory, 'metrics.json'), 'utf8'));
    expect(metrics.step).toBe(2);
  });

  it('evaluations after every epoch into one run continue the eval/batch steps', async () => {
    const { run, sink } = startTestRun();
    const data = () => batches(binaryRows, binaryTargets, 4);
    for (let epoch = 0; epoch < 3; epoch++) {
      await evaluate(binarySession, data(), { task: 'classification', run, warmupRuns: 0 });
      run.nextStep();
    }
    await run.end();
    expect(sink.metrics('eval/batch/latency (ms)').map((event) => event.step)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8,
    ]);
    expect(
      sink.metrics('eval/batch/throughput (samples per second)').map((event) => event.step),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // The summary of each evaluation is at the run's step: the epoch.
    expect(sink.metrics('eval/accuracy').map((event) => event.step)).toEqual([0, 1, 2]);
    // Another run starts again at 0.
    const other = startTestRun();
    await evaluate(binarySession, data(), {
      task: 'classification',
      run: other.run,
      warmupRuns: 0,
    });
    await other.run.end();
    expect(other.sink.metrics('eval/batch/latency (ms)').map((event) => event.step)).toEqual([
      0, 1, 2,
    ]);
  });
});

describe('evaluate: errors name the field and the fix', () => {
  const one = () => [{ feeds: { input: tensorOf([[0.5, 0.5]], 'float64') }, targets: [0] }];

  it('refuses bad options before running anything', async () => {
    await expect(evaluate(binarySession, one(), { task: 'clustering' as never })).rejects.toThrow(
      /option "task" is "clustering"; pass one of classification, regression, none/,
    );
    await expect(
      evaluate(binarySession, one(), { task: 'classification', output: 'nope' }),
    ).rejects.toThrow(
      /option "output" is "nope", which the model does not have; its outputs are scores/,
    );
    await expect(
      evaluate(binarySession, one(), { task: 'classification', topK: [0] }),
    ).rejects.toThrow(/option "topK"/);
    await expect(evaluate({} as never, one(), { task: 'none' })).rejects.toThrow(
      /neither an InferenceSession nor a path/,
    );
    await expect(evaluate(binarySession, 5 as never, { task: 'none' })).rejects.toThrow(
      /not iterable/,
    );
  });

  it('explains bad data', async () => {
    const run = () => startTestRun().run;
    await expect(evaluate(binarySession, [], { task: 'none', run: run() })).rejects.toThrow(
      /got no batches/,
    );
    await expect(
      evaluate(binarySession, [{ feeds: one()[0]!.feeds }], { task: 'classification', run: run() }),
    ).rejects.toThrow(/batch 0 has no targets/);
    await expect(
      evaluate(binarySession, one(), {
        task: 'classification',
        classLabels: ['a', 'b', 'c'],
        run: run(),
      }),
    ).rejects.toThrow(/"classLabels" has 3 labels, but the model scores 2 classes/);
    await expect(
      evaluate(binarySession, [{ feeds: one()[0]!.feeds, targets: ['z'] }], {
        task: 'classification',
        classLabels: ['a', 'b'],
        run: run(),
      }),
    ).rejects.toThrow(/target 0 is "z", which is not in classLabels \(a, b\)/);
    await expect(
      evaluate(
        binarySession,
        [{ feeds: { input: tensorOf([[3, -1]], 'float64') }, targets: [0] }],
        { task: 'classification', scores: 'probabilities', run: run() },
      ),
    ).rejects.toThrow(/pass scores: 'logits'/);
    await expect(
      evaluate(binarySession, [{ feeds: one()[0]!.feeds, targets: [0, 1, 1] }], {
        task: 'classification',
        run: run(),
      }),
    ).rejects.toThrow(/batch 0 has 3 targets for 1 samples/);
  });

  it('names the model a runtime cannot load', async () => {
    await expect(
      evaluate(new Uint8Array([1, 2, 3]), one(), {
        task: 'none',
        run: startTestRun().run,
        runtime: { InferenceSession: { create: () => Promise.reject(new Error('bad model')) } },
      }),
    ).rejects.toThrow(
      'livestep: evaluate() could not load the model bytes (3 bytes) with onnxruntime: bad model; check that it is an ONNX model',
    );
  });

  it('a model that fails to load still creates a run, ended failed with the error', async () => {
    const path = join(folder, 'not-a-model.onnx');
    await writeFile(path, '{"json": true}');
    const sink = createMemorySink();
    await expect(
      evaluate(path, one(), {
        task: 'classification',
        run: { experiment: 'broken', sinks: [sink], exitHooks: false, collectGit: false },
      }),
    ).rejects.toThrow(`could not load ${path} with onnxruntime`);
    expect(sink.events[0]).toMatchObject({
      kind: 'start',
      experiment: 'broken',
      name: 'not-a-model',
    });
    expect(sink.events.at(-1)).toMatchObject({
      kind: 'done',
      status: 'failed',
      error: { message: expect.stringContaining(`could not load ${path}`) },
    });
  });

  it('a batch with 0 samples says so, instead of a class count', async () => {
    const empty = { input: new ort.Tensor('float64', new Float64Array(0), [0, 3]) };
    await expect(
      evaluate(threeClassSession, [{ feeds: empty, targets: [] }], {
        task: 'classification',
        classLabels: ['a', 'b', 'c'],
        run: startTestRun().run,
      }),
    ).rejects.toThrow(
      'livestep: evaluate() batch 0 has 0 samples (output "scores" has dims [0, 3]); leave empty batches out of the data',
    );
  });

  it('onnxruntime errors carry the batch index and the inputs the model takes', async () => {
    const data = [
      ...one(),
      ...one(),
      { feeds: { features: tensorOf([[0.5, 0.5]], 'float64') }, targets: [0] },
    ];
    const failure = evaluate(binarySession, data, {
      task: 'classification',
      run: startTestRun().run,
    });
    await expect(failure).rejects.toThrow(
      /^livestep: evaluate\(\) session.run failed on batch 2: .*; check that batch's feeds against the model's inputs: input \(float64 \[batch, 2\]\)$/,
    );
    await expect(failure).rejects.toHaveProperty('cause');
  });
});
