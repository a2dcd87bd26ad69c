import {
  createMemorySink,
  type DoneEvent,
  type MemorySink,
  type PlotEvent,
  type RunEvent,
  startRun,
} from '@livestep/core';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LivestepCallbackOptions, livestepCallback } from './livestep-callback.js';
import { BACKENDS, smallClassifier, threeClassData, useBackend } from './test-support/backends.js';

const SAMPLES = 64;
const BATCH_SIZE = 16;
/** 64 samples, 20% held out for validation (tfjs rounds the split down): 51 train samples in 4 batches. */
const TRAIN_SAMPLES_WITH_SPLIT = 51;
const EPOCH_METRICS = [
  'eval/acc',
  'eval/loss',
  'train/acc',
  'train/epoch_seconds',
  'train/learning_rate',
  'train/loss',
  'train/samples_per_second',
];

function quietRunOptions(sink: MemorySink, warnings: string[] = []) {
  return {
    experiment: 'tfjs-test',
    name: 'fit',
    sinks: [sink],
    exitHooks: false,
    collectGit: false,
    collectMachine: false,
    onWarning: (message: string) => warnings.push(message),
  };
}

/** A callback that starts and ends its own run, recording into memory. */
function ownedCallback(options: LivestepCallbackOptions = {}) {
  const sink = createMemorySink();
  const warnings: string[] = [];
  const callback = livestepCallback({ runOptions: quietRunOptions(sink, warnings), ...options });
  return { sink, callback, warnings };
}

const metricNames = (sink: MemorySink) => [...new Set(sink.metrics().map((m) => m.name))].sort();
const steps = (sink: MemorySink, name: string) => sink.metrics(name).map((m) => m.step);
const values = (sink: MemorySink, name: string) => sink.metrics(name).map((m) => m.value);
const doneEvents = (sink: MemorySink) =>
  sink.events.filter((event): event is DoneEvent => event.kind === 'done');
const plots = (sink: MemorySink) =>
  sink.events.filter((event): event is PlotEvent => event.kind === 'plot');
const annotations = (sink: MemorySink, kind: string) =>
  sink.events.filter(
    (event: RunEvent) => event.kind === 'annotation' && event.labels?.kind === kind,
  );

describe.each(BACKENDS)('livestepCallback on the %s backend', (backend) => {
  let data: { x: tf.Tensor2D; y: tf.Tensor2D };

  beforeAll(async () => {
    await useBackend(backend);
    data = threeClassData(SAMPLES);
  });
  afterAll(() => {
    tf.dispose([data.x, data.y]);
  });

  it('records params, DVCLive metric names per epoch and ends its own run as completed', async () => {
    const { sink, callback } = ownedCallback();
    const model = smallClassifier();
    await model.fit(data.x, data.y, {
      epochs: 3,
      batchSize: BATCH_SIZE,
      validationSplit: 0.2,
      shuffle: false,
      verbose: 0,
      callbacks: [callback],
    });

    expect(metricNames(sink)).toEqual(EPOCH_METRICS);
    for (const name of EPOCH_METRICS) expect(steps(sink, name)).toEqual([0, 1, 2]);
    expect(values(sink, 'train/learning_rate')).toEqual([0.05, 0.05, 0.05]);

    const params = sink.params();
    expect(params.fit).toEqual({
      epochs: 3,
      initialEpoch: 0,
      batchSize: BATCH_SIZE,
      samples: TRAIN_SAMPLES_WITH_SPLIT,
      steps: 4,
      validation: true,
      metrics: ['loss', 'acc', 'val_loss', 'val_acc'],
    });
    expect(params.model).toEqual({
      class: 'Sequential',
      name: expect.stringMatching(/^sequential_\d+$/),
      layers: 2,
      trainableParams: 4 * 8 + 8 + 8 * 3 + 3,
      nonTrainableParams: 0,
      inputShapes: [[null, 4]],
      outputShapes: [[null, 3]],
    });
    expect(params.optimizer).toEqual({
      class: 'Adam',
      learningRate: 0.05,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: expect.any(Number),
    });
    expect(params.compile).toEqual({
      loss: 'categoricalCrossentropy',
      metrics: ['accuracy'],
      metricNames: ['loss', 'acc'],
    });
    expect(params.tfjs).toEqual({ backend, version: tf.version_core, layers: tf.version_layers });

    const summary = annotations(sink, 'model-summary');
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({ text: expect.stringContaining('Total params: 67') });

    expect(doneEvents(sink).map((done) => done.status)).toEqual(['completed']);
    expect(sink.closeCount).toBe(1);
    expect(callback.run?.status).toBe('completed');
  });

  it('records the same values whether logs arrive as Scalars or numbers, first or last, verbose 0 or 1', async () => {
    const lossesByArrangement: unknown[][] = [];
    const arrangements = [
      { name: 'alone, verbose 0', before: false, verbose: 0 },
      { name: 'after EarlyStopping (numbers), verbose 1', before: true, verbose: 1 },
      { name: 'before EarlyStopping (Scalars), verbose 1', before: false, verbose: 1 },
      { name: 'after EarlyStopping, verbose 0', before: true, verbose: 0 },
    ];
    for (const arrangement of arrangements) {
      const { sink, callback } = ownedCallback();
      // Patience larger than the fit: it resolves the logs but never stops.
      const earlyStopping = tf.callbacks.earlyStopping({ monitor: 'val_loss', patience: 50 });
      const callbacks =
        arrangement.name === 'alone, verbose 0'
          ? [callback]
          : arrangement.before
            ? [earlyStopping, callback]
            : [callback, earlyStopping];
      await smallClassifier().fit(data.x, data.y, {
        epochs: 2,
        batchSize: BATCH_SIZE,
        validationSplit: 0.2,
        shuffle: false,
        verbose: arrangement.verbose,
        callbacks,
      });
      expect(metricNames(sink), arrangement.name).toEqual(EPOCH_METRICS);
      expect(steps(sink, 'eval/loss'), arrangement.name).toEqual([0, 1]);
      expect(doneEvents(sink).map((done) => done.status)).toEqual(['completed']);
      lossesByArrangement.push([...values(sink, 'train/loss'), ...values(sink, 'eval/acc')]);
    }
    for (const losses of lossesByArrangement) expect(losses).toEqual(lossesByArrangement[0]);
  });

  it('logs every Nth batch on a global step, with the values tfjs computed', async () => {
    const { sink, callback } = ownedCallback({ logEveryBatches: 5 });
    const seenLosses: number[] = [];
    await smallClassifier().fit(data.x, data.y, {
      epochs: 3,
      batchSize: BATCH_SIZE,
      shuffle: false,
      verbose: 0,
      callbacks: [
        callback,
        new tf.CustomCallback({
          onBatchEnd: (_batch, logs) => {
            seenLosses.push(logs!.loss!);
          },
        }),
      ],
    });
    // 64 samples / 16 = 4 batches per epoch, 12 in all: batches 0, 5 and 10 are logged.
    expect(seenLosses).toHaveLength(12);
    expect(steps(sink, 'train/batch/loss')).toEqual([0, 5, 10]);
    expect(steps(sink, 'train/batch/acc')).toEqual([0, 5, 10]);
    expect(values(sink, 'train/batch/loss')).toEqual([0, 5, 10].map((step) => seenLosses[step]));
    expect(metricNames(sink)).toEqual([
      'train/acc',
      'train/batch/acc',
      'train/batch/loss',
      'train/epoch_seconds',
      'train/learning_rate',
      'train/loss',
      'train/samples_per_second',
    ]);
  });

  it('ends its own run as completed with the stopping epoch when EarlyStopping stops the fit', async () => {
    const { sink, callback } = ownedCallback();
    // minDelta larger than any improvement: the second epoch "does not improve" and stops.
    const earlyStopping = tf.callbacks.earlyStopping({ monitor: 'loss', minDelta: 100 });
    const history = await smallClassifier().fit(data.x, data.y, {
      epochs: 10,
      batchSize: BATCH_SIZE,
      verbose: 0,
      callbacks: [callback, earlyStopping],
    });
    expect(history.epoch).toEqual([0, 1]);
    expect(steps(sink, 'train/loss')).toEqual([0, 1]);
    expect((sink.params().fit as Record<string, unknown>).stoppedEpoch).toBe(1);
    expect(annotations(sink, 'early-stop')).toHaveLength(1);
    expect(doneEvents(sink).map((done) => done.status)).toEqual(['completed']);
  });

  it('ends its own run as failed when another callback throws during the fit', async () => {
    const { sink, callback } = ownedCallback();
    const thrower = new tf.CustomCallback({
      onEpochEnd: (epoch) => {
        if (epoch === 1) throw new Error('checkpoint disk is full');
      },
    });
    await expect(
      smallClassifier().fit(data.x, data.y, {
        epochs: 5,
        batchSize: BATCH_SIZE,
        verbose: 0,
        callbacks: [callback, thrower],
      }),
    ).rejects.toThrow('checkpoint disk is full');
    await callback.run?.end();
    expect(steps(sink, 'train/loss')).toEqual([0, 1]);
    const done = doneEvents(sink);
    expect(done.map((event) => event.status)).toEqual(['failed']);
    expect(done[0]?.error?.message).toBe(
      'livestep: model.fit() threw in epoch 1; the error went to the caller of model.fit()',
    );
  });

  it('ends its own run as failed when fitDataset meets a batch of the wrong shape', async () => {
    const { sink, callback } = ownedCallback();
    const batches = function* () {
      for (let index = 0; index < 3; index++) {
        const width = index === 2 ? 5 : 4; // the third batch does not fit the model's input
        yield { xs: tf.ones([8, width]), ys: tf.oneHot(tf.zeros([8], 'int32'), 3) };
      }
    };
    await expect(
      smallClassifier().fitDataset(tf.data.generator(batches), {
        epochs: 2,
        verbose: 0,
        callbacks: [callback],
      }),
    ).rejects.toThrow(/is incompatible with layer/);
    await callback.run?.end();
    expect(steps(sink, 'train/loss')).toEqual([]);
    expect(doneEvents(sink).map((event) => [event.status, event.error?.message])).toEqual([
      [
        'failed',
        'livestep: model.fitDataset() threw in epoch 0; the error went to the caller of model.fitDataset()',
      ],
    ]);
  });

  it('records fitDataset with validation data: names, steps, params and sample counts', async () => {
    const { sink, callback } = ownedCallback({ logEveryBatches: 1 });
    const training = tf.data
      .zip({ xs: tf.data.array(data.x.arraySync()), ys: tf.data.array(data.y.arraySync()) })
      .batch(BATCH_SIZE);
    const validation = tf.data
      .zip({
        xs: tf.data.array(data.x.slice(0, 16).arraySync()),
        ys: tf.data.array(data.y.slice(0, 16).arraySync()),
      })
      .batch(8);
    await smallClassifier().fitDataset(training, {
      epochs: 2,
      validationData: validation,
      verbose: 0,
      callbacks: [callback],
    });
    expect(metricNames(sink)).toEqual(
      [...EPOCH_METRICS, 'train/batch/acc', 'train/batch/loss'].sort(),
    );
    expect(steps(sink, 'eval/acc')).toEqual([0, 1]);
    expect(steps(sink, 'train/batch/loss')).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(sink.params().fit).toMatchObject({
      epochs: 2,
      batchSize: null,
      samples: null,
      validation: true,
    });
    expect(doneEvents(sink).map((event) => event.status)).toEqual(['completed']);
  });

  it('continues the steps of a run it was given across two fits, and leaves the run open', async () => {
    const sink = createMemorySink();
    const run = startRun(quietRunOptions(sink));
    const model = smallClassifier();
    const fitArguments = { batchSize: BATCH_SIZE, shuffle: false, verbose: 0 } as const;
    await model.fit(data.x, data.y, {
      ...fitArguments,
      epochs: 2,
      callbacks: [livestepCallback({ run, logEveryBatches: 1 })],
    });
    // A second fit, as users often write it: epochs counted from 0 again, a new callback.
    await model.fit(data.x, data.y, {
      ...fitArguments,
      epochs: 2,
      callbacks: [livestepCallback({ run, logEveryBatches: 1 })],
    });
    expect(run.status).toBe('running');
    await run.end();
    expect(steps(sink, 'train/loss')).toEqual([0, 1, 2, 3]);
    expect(steps(sink, 'train/batch/loss')).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(doneEvents(sink)).toHaveLength(1);
  });

  it('draws a confusion matrix and one-vs-rest ROC and PR curves per class at train end', async () => {
    const { sink, callback } = ownedCallback({
      evaluation: { x: data.x, y: data.y, classNames: ['red', 'green', 'blue'] },
    });
    await smallClassifier().fit(data.x, data.y, {
      epochs: 2,
      batchSize: BATCH_SIZE,
      verbose: 0,
      callbacks: [callback],
    });
    const recorded = plots(sink);
    expect(recorded.map((plot) => `${plot.name} ${plot.plotKind} ${plot.step}`).sort()).toEqual([
      'confusion_matrix confusion 1',
      'precision_recall/blue pr 1',
      'precision_recall/green pr 1',
      'precision_recall/red pr 1',
      'roc/blue roc 1',
      'roc/green roc 1',
      'roc/red roc 1',
    ]);
    const confusion = recorded.find((plot) => plot.name === 'confusion_matrix')!;
    const total = confusion.rows.reduce((sum, row) => sum + Number(row.count), 0);
    expect(total).toBe(SAMPLES);
    expect(new Set(confusion.rows.map((row) => row.actual))).toEqual(
      new Set(['red', 'green', 'blue']),
    );
  });
});

describe('livestepCallback (cpu only)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('draws single ROC, PR and confusion plots for a binary sigmoid classifier', async () => {
    const x = tf.tensor2d([[0], [1], [2], [3], [4], [5], [6], [7]]);
    const y = tf.tensor1d([0, 0, 0, 0, 1, 1, 1, 1]);
    const model = tf.sequential({
      layers: [tf.layers.dense({ units: 1, inputShape: [1], activation: 'sigmoid' })],
    });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'binaryCrossentropy' });
    const { sink, callback } = ownedCallback({
      evaluation: { x, y, classNames: ['no', 'yes'], plots: ['roc', 'pr', 'confusion'] },
    });
    await model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [callback] });
    expect(plots(sink).map((plot) => plot.name)).toEqual([
      'confusion_matrix',
      'roc',
      'precision_recall',
    ]);
    const roc = plots(sink).find((plot) => plot.name === 'roc')!;
    expect(roc.rows[0]).toEqual({ fpr: 0, tpr: 0, threshold: 'inf' });
    expect(roc.rows.at(-1)).toMatchObject({ fpr: 1, tpr: 1 });
    tf.dispose([x, y]);
  });

  it('records weight histograms every N epochs, one bar plot per weight', async () => {
    const data = threeClassData(32);
    const { sink, callback } = ownedCallback({ histogramsEveryEpochs: 2, histogramBins: 5 });
    await smallClassifier().fit(data.x, data.y, {
      epochs: 4,
      batchSize: 16,
      verbose: 0,
      callbacks: [callback],
    });
    const histograms = plots(sink);
    // tfjs numbers layers globally (dense_Dense12): compare the names with the numbers replaced.
    const layerNumbers = (name: string) => name.replace(/Dense\d+/g, 'Dense#');
    const weights = ['kernel', 'bias'].map((weight) => `histograms/dense_Dense#/${weight}`);
    expect(histograms.map((plot) => `${layerNumbers(plot.name)}@${plot.step}`)).toEqual(
      [1, 3].flatMap((step) => [...weights, ...weights].map((name) => `${name}@${step}`)),
    );
    const kernel = histograms[0]!;
    expect(kernel.plotKind).toBe('bar');
    expect(kernel.rows).toHaveLength(5);
    expect(kernel.rows.reduce((sum, row) => sum + Number(row.count), 0)).toBe(4 * 8);
    tf.dispose([data.x, data.y]);
  });

  it('prefixes metric, plot and param names', async () => {
    const data = threeClassData(32);
    const { sink, callback } = ownedCallback({ prefix: 'fold-1' });
    await smallClassifier().fit(data.x, data.y, {
      epochs: 1,
      batchSize: 16,
      verbose: 0,
      callbacks: [callback],
    });
    expect(metricNames(sink)).toEqual([
      'fold-1/train/acc',
      'fold-1/train/epoch_seconds',
      'fold-1/train/learning_rate',
      'fold-1/train/loss',
      'fold-1/train/samples_per_second',
    ]);
    expect(Object.keys(sink.params())).toEqual(['fold-1']);
    tf.dispose([data.x, data.y]);
  });

  it('still records metrics, with a warning, when a plain-object callback comes first (tfjs issue 1792)', async () => {
    const data = threeClassData(32);
    const { sink, callback, warnings } = ownedCallback({ logEveryBatches: 1 });
    const epochsSeen: number[] = [];
    await smallClassifier().fit(data.x, data.y, {
      epochs: 2,
      batchSize: 16,
      verbose: 0,
      callbacks: [
        { onEpochEnd: async (epoch: number) => void epochsSeen.push(epoch) },
        callback,
      ] as never,
    });
    expect(epochsSeen).toEqual([0, 1]);
    expect(steps(sink, 'train/loss')).toEqual([0, 1]);
    // Here tfjs resolves the batch logs to numbers before the callback sees them.
    expect(steps(sink, 'train/batch/loss')).toEqual([0, 1, 2, 3]);
    expect(warnings).toEqual([expect.stringContaining('tfjs issue 1792')]);
    expect(doneEvents(sink).map((event) => event.status)).toEqual(['completed']);
    tf.dispose([data.x, data.y]);
  });

  it('works beside plain objects wrapped in tf.CustomCallback, in any position', async () => {
    const data = threeClassData(32);
    for (const first of [true, false]) {
      const { sink, callback } = ownedCallback();
      const other = new tf.CustomCallback({ onEpochEnd: async () => {} });
      await smallClassifier().fit(data.x, data.y, {
        epochs: 2,
        batchSize: 16,
        verbose: 0,
        callbacks: first ? [callback, other] : [other, callback],
      });
      expect(sink.params().model).toMatchObject({ class: 'Sequential' });
      expect(steps(sink, 'train/loss')).toEqual([0, 1]);
    }
    tf.dispose([data.x, data.y]);
  });

  it('starts the steps at initialEpoch when resuming on a fresh run', async () => {
    const data = threeClassData(32);
    const { sink, callback } = ownedCallback();
    await smallClassifier().fit(data.x, data.y, {
      epochs: 4,
      initialEpoch: 2,
      batchSize: 16,
      verbose: 0,
      callbacks: [callback],
    });
    expect(steps(sink, 'train/loss')).toEqual([2, 3]);
    expect(sink.params().fit).toMatchObject({ initialEpoch: 2, epochs: 4 });
    tf.dispose([data.x, data.y]);
  });

  it('rejects bad options with the option and the fix in the message', () => {
    expect(() => livestepCallback({ logEveryBatches: -1 })).toThrow(
      'livestep: livestepCallback logEveryBatches is -1; pass an integer >= 0',
    );
    expect(() => livestepCallback({ histogramsEveryEpochs: 1.5 })).toThrow(
      /histogramsEveryEpochs is 1.5/,
    );
    const sink = createMemorySink();
    const run = startRun(quietRunOptions(sink));
    expect(() => livestepCallback({ run, runOptions: {} })).toThrow(/both run and runOptions/);
    expect(() =>
      livestepCallback({ evaluation: { x: [1, 2] as never, y: tf.zeros([2]) } }),
    ).toThrow(/evaluation.x and evaluation.y must be tensors/);
    void run.end();
  });
});
