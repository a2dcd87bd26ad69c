import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AnnotationEvent,
  createDirectorySink,
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
    (event: RunEvent): event is AnnotationEvent =>
      event.kind === 'annotation' && event.labels?.kind === kind,
  );
const temporaryFolder = () => mkdtempSync(join(tmpdir(), 'livestep-tfjs-'));
/** A sink whose sends never finish (a server that accepts the connection and never answers). */
const stuckSink = () => ({ name: 'stuck', send: () => new Promise<never>(() => {}) });

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
      stoppedEpoch: null,
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

  it('records the fit settings, not nulls, and advises a fix that works, when a plain-object callback comes first (tfjs issue 1792)', async () => {
    const data = threeClassData(32);
    const fitArguments = { epochs: 2, batchSize: 16, verbose: 0 } as const;
    const { sink, callback, warnings } = ownedCallback({ logEveryBatches: 1 });
    const epochsSeen: number[] = [];
    await smallClassifier().fit(data.x, data.y, {
      ...fitArguments,
      callbacks: [
        { onEpochEnd: async (epoch: number) => void epochsSeen.push(epoch) },
        callback,
      ] as never,
    });
    expect(epochsSeen).toEqual([0, 1]);
    expect(steps(sink, 'train/loss')).toEqual([0, 1]);
    // Here tfjs resolves the batch logs to numbers before the callback sees them.
    expect(steps(sink, 'train/batch/loss')).toEqual([0, 1, 2, 3]);
    // The settings tfjs gave its wrapper, not `epochs: null, metrics: []`; nothing about the model.
    expect(sink.params().fit).toEqual({
      epochs: 2,
      initialEpoch: 0,
      batchSize: 16,
      samples: 32,
      steps: 2,
      validation: false,
      metrics: ['loss', 'acc'],
      stoppedEpoch: null,
    });
    expect(sink.params().model).toBeUndefined();
    expect(doneEvents(sink).map((event) => event.status)).toEqual(['completed']);
    expect(warnings).toHaveLength(1);
    const warning = warnings[0]!;
    expect(warning).toContain('tfjs issue 1792');
    expect(warning).toContain('wrap each plain object in new tf.CustomCallback');
    expect(warning).not.toMatch(/put livestepCallback\(\) first/i);
    expect(annotations(sink, 'callback-order')).toEqual([
      expect.objectContaining({ level: 'warning', text: warning }),
    ]);

    // Putting livestepCallback() first is no fix: tfjs then treats the plain object as a
    // tf.Callback and throws. So the warning does not advise it.
    await expect(
      smallClassifier().fit(data.x, data.y, {
        ...fitArguments,
        callbacks: [
          livestepCallback({ run: startRun(quietRunOptions(createMemorySink())) }),
          { onEpochEnd: async () => {} },
        ] as never,
      }),
    ).rejects.toThrow('callback.setParams is not a function');

    // The advised fix, in either order: everything is recorded and nothing is warned.
    for (const first of [true, false]) {
      const fixed = ownedCallback();
      const wrapped = new tf.CustomCallback({ onEpochEnd: async () => {} });
      await smallClassifier().fit(data.x, data.y, {
        ...fitArguments,
        callbacks: first ? [fixed.callback, wrapped] : [wrapped, fixed.callback],
      });
      expect(fixed.warnings).toEqual([]);
      expect(fixed.sink.params().fit).toMatchObject({ epochs: 2, metrics: ['loss', 'acc'] });
      expect(fixed.sink.params().model).toMatchObject({ class: 'Sequential' });
      expect(annotations(fixed.sink, 'model-summary')).toHaveLength(1);
    }
    tf.dispose([data.x, data.y]);
  });

  it('forgets the model of an earlier fit when the same callback is then wrapped as a plain object', async () => {
    const data = threeClassData(32);
    const { sink, callback, warnings } = ownedCallback();
    const fitArguments = { epochs: 1, batchSize: 16, verbose: 0 } as const;
    await smallClassifier().fit(data.x, data.y, { ...fitArguments, callbacks: [callback] });
    await smallClassifier(4).fit(data.x, data.y, {
      ...fitArguments,
      callbacks: [{ onEpochEnd: async () => {} }, callback] as never,
    });
    // Each fit starts its own run into the same sink: look at the second run's params only.
    const secondStart = sink.events.findLastIndex((event) => event.kind === 'start');
    const secondParams = sink.events
      .slice(secondStart)
      .filter((event) => event.kind === 'params')
      .map((event) => Object.keys((event as { params: Record<string, unknown> }).params));
    expect(secondParams).toEqual([['fit', 'tfjs']]);
    expect(warnings).toEqual([expect.stringContaining('tfjs issue 1792')]);
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

describe('livestepCallback: review fixes (cpu)', () => {
  let data: { x: tf.Tensor2D; y: tf.Tensor2D };
  const fitArguments = { batchSize: 16, shuffle: false, verbose: 0 } as const;

  beforeAll(async () => {
    await useBackend('cpu');
    data = threeClassData(32);
  });
  afterAll(() => {
    tf.dispose([data.x, data.y]);
  });

  /** A classifier with two outputs: `colour` (3 classes, softmax) and `big` (one sigmoid unit). */
  function twoOutputClassifier(): tf.LayersModel {
    const input = tf.input({ shape: [4] });
    const hidden = tf.layers
      .dense({
        units: 8,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      })
      .apply(input) as tf.SymbolicTensor;
    const colour = tf.layers
      .dense({ units: 3, activation: 'softmax', name: 'colour' })
      .apply(hidden) as tf.SymbolicTensor;
    const big = tf.layers
      .dense({ units: 1, activation: 'sigmoid', name: 'big' })
      .apply(hidden) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [colour, big] });
    model.compile({
      optimizer: tf.train.adam(0.05),
      loss: ['categoricalCrossentropy', 'binaryCrossentropy'],
    });
    return model;
  }
  /** 0/1 labels for the `big` output: is the fourth feature above one half. */
  const bigLabels = () => tf.tidy(() => data.x.slice([0, 3], [-1, 1]).greater(0.5).cast('float32'));

  it("clears an earlier fit's stoppedEpoch in params.yaml when a later fit on the same run runs every epoch", async () => {
    const folder = temporaryFolder();
    const memory = createMemorySink();
    const run = startRun({
      ...quietRunOptions(memory),
      sinks: [memory, createDirectorySink({ directory: join(folder, 'livestep'), dvcYaml: false })],
    });
    const model = smallClassifier();
    // minDelta larger than any improvement: the second epoch "does not improve" and stops.
    const earlyStopping = tf.callbacks.earlyStopping({ monitor: 'loss', minDelta: 100 });
    await model.fit(data.x, data.y, {
      ...fitArguments,
      epochs: 10,
      callbacks: [livestepCallback({ run }), earlyStopping],
    });
    await run.flush();
    expect((memory.params().fit as Record<string, unknown>).stoppedEpoch).toBe(1);
    await model.fit(data.x, data.y, {
      ...fitArguments,
      epochs: 2,
      callbacks: [livestepCallback({ run })],
    });
    await run.end();
    expect(memory.params().fit).toMatchObject({ epochs: 2, stoppedEpoch: null });
    const paramsYaml = readFileSync(join(folder, 'livestep', 'params.yaml'), 'utf8');
    expect(paramsYaml).toContain('stoppedEpoch: null');
    expect(paramsYaml).toMatch(/epochs: 2\b/);
  });

  it('fails the fit before the first epoch when the evaluation data does not fit the model, naming the option and the fix', async () => {
    const cases: Array<
      [string, () => { x: tf.Tensor | tf.Tensor[]; y: unknown }, RegExp, () => tf.LayersModel]
    > = [
      [
        'x and y rows differ',
        () => ({ x: data.x, y: data.y.slice(0, 16) }),
        /evaluation\.y has 16 rows but evaluation\.x has 32; pass one label per sample/,
        () => smallClassifier(),
      ],
      [
        'y has a column per class of another model',
        () => ({ x: data.x, y: tf.ones([32, 4]) }),
        /evaluation\.y has 4 columns but the model's output predicts 3 classes; pass one-hot labels with one column per class, or class indices/,
        () => smallClassifier(),
      ],
      [
        'x has another width than the model input',
        () => ({ x: tf.ones([32, 5]), y: data.y }),
        /evaluation\.x has shape \[32, 5\] but the model's input ".+" takes \[null, 4\]; pass features shaped like the training x/,
        () => smallClassifier(),
      ],
      [
        'class indices out of range',
        () => ({ x: data.x, y: tf.fill([32], 5) }),
        /evaluation\.y has 5 at row 0; pass class indices from 0 to 2/,
        () => smallClassifier(),
      ],
      [
        'one label tensor for a model with two outputs',
        () => ({ x: data.x, y: data.y }),
        /evaluation\.y is one tensor but the model has 2 outputs \(colour, big\); pass one label tensor per output/,
        twoOutputClassifier,
      ],
      [
        'an output name the model does not have',
        () => ({ x: data.x, y: { size: data.y } }),
        /evaluation\.y names output "size", which the model does not have; its outputs are colour, big/,
        twoOutputClassifier,
      ],
    ];
    for (const [name, evaluation, message, makeModel] of cases) {
      const { sink, callback } = ownedCallback({ evaluation: evaluation() as never });
      const model = makeModel();
      const fitY = model.outputs.length > 1 ? [data.y, bigLabels()] : data.y;
      const started = performance.now();
      await expect(
        model.fit(data.x, fitY, { ...fitArguments, epochs: 50, callbacks: [callback] }),
        name,
      ).rejects.toThrow(message);
      expect(steps(sink, 'train/loss'), name).toEqual([]);
      expect(
        doneEvents(sink).map((done) => [done.status, done.error?.message]),
        name,
      ).toEqual([['failed', expect.stringMatching(message)]]);
      expect(performance.now() - started, name).toBeLessThan(5_000);
    }
  });

  it('rejects classNames that do not name every class, before the first epoch', async () => {
    for (const classNames of [
      ['red', 'green'],
      ['red', 'green', 'blue', 'violet'],
    ]) {
      const { sink, callback } = ownedCallback({
        evaluation: { x: data.x, y: data.y, classNames },
      });
      await expect(
        smallClassifier().fit(data.x, data.y, {
          ...fitArguments,
          epochs: 3,
          callbacks: [callback],
        }),
      ).rejects.toThrow(
        `livestep: livestepCallback evaluation.classNames has ${classNames.length} name(s) (${classNames.join(', ')}) but the model's output predicts 3 classes; pass one name per class`,
      );
      expect(steps(sink, 'train/loss')).toEqual([]);
    }
    expect(() =>
      livestepCallback({ evaluation: { x: data.x, y: data.y, classNames: ['a', 'b', 'a'] } }),
    ).toThrow('evaluation.classNames has "a" twice; give each class its own name');
    expect(() =>
      livestepCallback({ evaluation: { x: data.x, y: data.y, classNames: ['a', 1] as never } }),
    ).toThrow('evaluation.classNames must be an array of strings, one per class');
  });

  it('draws the classifier plots per output for a model with several outputs', async () => {
    const big = bigLabels();
    const bigIndices = big.reshape([32]);
    for (const y of [[data.y, bigIndices], { colour: data.y, big: bigIndices }]) {
      const { sink, callback } = ownedCallback({
        evaluation: {
          x: data.x,
          y,
          classNames: { colour: ['red', 'green', 'blue'], big: ['small', 'big'] },
        },
      });
      await twoOutputClassifier().fit(data.x, [data.y, big], {
        ...fitArguments,
        epochs: 2,
        callbacks: [callback],
      });
      expect(
        plots(sink)
          .map((plot) => `${plot.name}@${plot.step}`)
          .sort(),
      ).toEqual([
        'big/confusion_matrix@1',
        'big/precision_recall@1',
        'big/roc@1',
        'colour/confusion_matrix@1',
        'colour/precision_recall/blue@1',
        'colour/precision_recall/green@1',
        'colour/precision_recall/red@1',
        'colour/roc/blue@1',
        'colour/roc/green@1',
        'colour/roc/red@1',
      ]);
      const confusion = plots(sink).find((plot) => plot.name === 'big/confusion_matrix')!;
      expect(new Set(confusion.rows.map((row) => row.actual))).toEqual(new Set(['small', 'big']));
    }
    // Only the outputs named get plots.
    const { sink, callback } = ownedCallback({ evaluation: { x: data.x, y: { big: bigIndices } } });
    await twoOutputClassifier().fit(data.x, [data.y, big], {
      ...fitArguments,
      epochs: 1,
      callbacks: [callback],
    });
    expect(
      plots(sink)
        .map((plot) => plot.name)
        .sort(),
    ).toEqual(['big/confusion_matrix', 'big/precision_recall', 'big/roc']);
    tf.dispose([big, bigIndices]);
  });

  it('skips the classifier plots and the histograms of a diverged model (NaN weights), with warnings at its step', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({
          units: 3,
          inputShape: [4],
          activation: 'softmax',
          kernelInitializer: tf.initializers.constant({ value: Number.NaN }),
        }),
      ],
    });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
    const { sink, callback, warnings } = ownedCallback({
      evaluation: { x: data.x, y: data.y },
      histogramsEveryEpochs: 1,
    });
    await model.fit(data.x, data.y, { ...fitArguments, epochs: 2, callbacks: [callback] });
    expect(values(sink, 'train/loss')).toEqual(['nan', 'nan']);
    // No confusion matrix of "everything is class 0", no empty histograms.
    expect(plots(sink)).toEqual([]);
    const skippedPlots = annotations(sink, 'evaluation-skipped');
    expect(skippedPlots).toEqual([
      expect.objectContaining({
        level: 'warning',
        step: 1,
        text: expect.stringContaining(
          "confusion, roc, pr for the model's output: the model predicts non-finite scores (NaN or infinity)",
        ),
      }),
    ]);
    const skippedHistograms = annotations(sink, 'histograms-skipped');
    expect(skippedHistograms.map((annotation) => [annotation.level, annotation.step])).toEqual([
      ['warning', 0],
      ['warning', 1],
    ]);
    expect(skippedHistograms[0]!.text).toMatch(/kernel, .*bias hold NaN or infinite values/);
    // The warning handler hears each kind once per fit, the run keeps every note.
    expect(warnings).toEqual([
      expect.stringContaining('weight histograms skipped at epoch 0'),
      expect.stringContaining('evaluation plots skipped'),
    ]);
  });

  it('gives each prefix its own steps on one shared run (k-fold), batch steps too, and keeps every fold in the folder', async () => {
    const folder = temporaryFolder();
    const memory = createMemorySink();
    const run = startRun({
      ...quietRunOptions(memory),
      sinks: [memory, createDirectorySink({ directory: join(folder, 'livestep'), dvcYaml: false })],
    });
    for (const fold of [1, 2, 3]) {
      await smallClassifier().fit(data.x, data.y, {
        ...fitArguments,
        epochs: 2,
        callbacks: [livestepCallback({ run, prefix: `fold-${fold}`, logEveryBatches: 1 })],
      });
    }
    // The same prefix again continues its own series.
    await smallClassifier().fit(data.x, data.y, {
      ...fitArguments,
      epochs: 1,
      callbacks: [livestepCallback({ run, prefix: 'fold-3', logEveryBatches: 1 })],
    });
    await run.end();
    for (const fold of [1, 2]) {
      expect(steps(memory, `fold-${fold}/train/loss`)).toEqual([0, 1]);
      expect(steps(memory, `fold-${fold}/train/batch/loss`)).toEqual([0, 1, 2, 3]);
    }
    expect(steps(memory, 'fold-3/train/loss')).toEqual([0, 1, 2]);
    expect(steps(memory, 'fold-3/train/batch/loss')).toEqual([0, 1, 2, 3, 4, 5]);
    for (const fold of [1, 2, 3]) {
      const tsv = readFileSync(
        join(folder, 'livestep', 'plots', 'metrics', `fold-${fold}`, 'train', 'loss.tsv'),
        'utf8',
      );
      expect(tsv.trim().split('\n').length).toBe(fold === 3 ? 4 : 3);
    }
    const paramsYaml = readFileSync(join(folder, 'livestep', 'params.yaml'), 'utf8');
    for (const fold of [1, 2, 3]) expect(paramsYaml).toContain(`fold-${fold}:`);
  });

  it("moves the batch steps back with the epoch steps when the run's step is set back (run.setStep(0))", async () => {
    const sink = createMemorySink();
    const run = startRun(quietRunOptions(sink));
    const model = smallClassifier();
    for (let fit = 0; fit < 2; fit++) {
      if (fit > 0) run.setStep(0);
      await model.fit(data.x, data.y, {
        ...fitArguments,
        epochs: 2,
        callbacks: [livestepCallback({ run, logEveryBatches: 1 })],
      });
    }
    await run.end();
    expect(steps(sink, 'train/loss')).toEqual([0, 1, 0, 1]);
    expect(steps(sink, 'train/batch/loss')).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
  });

  it('warns when a run started per fold would replace the previous fold in its folder, naming the shared-run fix', async () => {
    const folder = temporaryFolder();
    const warnings: string[] = [];
    for (const fold of [1, 2]) {
      await smallClassifier().fit(data.x, data.y, {
        ...fitArguments,
        epochs: 1,
        callbacks: [
          livestepCallback({
            prefix: `fold-${fold}`,
            runOptions: {
              directory: join(folder, 'livestep'),
              environment: {},
              exitHooks: false,
              collectGit: false,
              collectMachine: false,
              onWarning: (message) => warnings.push(message),
            },
          }),
        ],
      });
    }
    expect(warnings).toEqual([
      expect.stringContaining(
        'prefix "fold-2" started a new run in ' +
          join(folder, 'livestep') +
          ', which replaces what the run for prefix "fold-1" wrote there. For k-fold, start one run and pass it to every fold: livestepCallback({ run, prefix: "fold-2" })',
      ),
    ]);
  });

  it('rejects a bad prefix when the callback is made, not after the first epoch', () => {
    for (const [prefix, problem] of [
      ['fold:1', 'contains ":"'],
      ['a/../b', 'has a ".." path segment'],
      [' fold', 'has a path segment with leading or trailing spaces'],
      ['a//b', 'has an empty path segment'],
      ['x'.repeat(150), 'is 150 characters long; the limit is 100'],
    ] as const) {
      expect(() => livestepCallback({ prefix }), prefix).toThrow(
        `livestep: livestepCallback prefix ${JSON.stringify(prefix)} ${problem}`,
      );
    }
    expect(livestepCallback({ prefix: 'stage-2/finetune/' })).toBeDefined();
  });

  it('puts annotations at the step of the epoch they describe', async () => {
    // An early stop after epoch 1: the note is at step 1, with epoch 1's metrics.
    const early = ownedCallback();
    const earlyStopping = tf.callbacks.earlyStopping({ monitor: 'loss', minDelta: 100 });
    await smallClassifier().fit(data.x, data.y, {
      ...fitArguments,
      epochs: 10,
      callbacks: [early.callback, earlyStopping],
    });
    expect(steps(early.sink, 'train/loss')).toEqual([0, 1]);
    expect(annotations(early.sink, 'early-stop').map((note) => note.step)).toEqual([1]);
    expect(annotations(early.sink, 'model-summary').map((note) => note.step)).toEqual([0]);

    // A fit that throws at the end of epoch 1 (after livestep logged it) on a given run.
    const sink = createMemorySink();
    const run = startRun(quietRunOptions(sink));
    const thrower = new tf.CustomCallback({
      onEpochEnd: (epoch) => {
        if (epoch === 1) throw new Error('checkpoint disk is full');
      },
    });
    await expect(
      smallClassifier().fit(data.x, data.y, {
        ...fitArguments,
        epochs: 5,
        callbacks: [livestepCallback({ run }), thrower],
      }),
    ).rejects.toThrow('checkpoint disk is full');
    await run.end('failed');
    expect(steps(sink, 'train/loss')).toEqual([0, 1]);
    expect(annotations(sink, 'fit-failed')).toEqual([
      expect.objectContaining({ step: 1, text: expect.stringContaining('threw in epoch 1') }),
    ]);
  });

  it('ends its own run within endTimeoutMs when a sink never answers, and passes the timeout to end()', async () => {
    const started = performance.now();
    const memory = createMemorySink();
    const callback = livestepCallback({
      runOptions: { ...quietRunOptions(memory), sinks: [memory, stuckSink()] },
      endTimeoutMs: 200,
    });
    await smallClassifier().fit(data.x, data.y, {
      ...fitArguments,
      epochs: 1,
      callbacks: [callback],
    });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(callback.run?.status).toBe('completed');
    const report = await callback.run!.end();
    expect(report.ok).toBe(false);
    expect(report.sinks.find((entry) => entry.sink === 'stuck')?.pending).toBeGreaterThan(0);
    expect(doneEvents(memory).map((done) => done.status)).toEqual(['completed']);

    // The failed path too (here: evaluation data that does not fit, found at train begin).
    const failing = livestepCallback({
      runOptions: { ...quietRunOptions(createMemorySink()), sinks: [stuckSink()] },
      endTimeoutMs: 200,
      evaluation: { x: data.x, y: data.y.slice(0, 8) },
    });
    const failingStarted = performance.now();
    await expect(
      smallClassifier().fit(data.x, data.y, { ...fitArguments, epochs: 1, callbacks: [failing] }),
    ).rejects.toThrow(/evaluation\.y has 8 rows/);
    expect(performance.now() - failingStarted).toBeLessThan(5_000);
    expect(failing.run?.status).toBe('failed');
  }, 10_000);

  it('rejects endTimeoutMs beside a given run, or when it is not a count of milliseconds', () => {
    const run = startRun(quietRunOptions(createMemorySink()));
    expect(() => livestepCallback({ run, endTimeoutMs: 100 })).toThrow(
      'endTimeoutMs is for the run the callback starts itself, so pass the timeout to your own run.end(status, { timeoutMs }) instead',
    );
    expect(() => livestepCallback({ endTimeoutMs: -1 })).toThrow(
      'livestep: livestepCallback endTimeoutMs is -1; pass an integer >= 0',
    );
    void run.end();
  });
});
