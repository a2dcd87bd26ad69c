#!/usr/bin/env node
// A training loop you wrote yourself, recorded with livestep: softmax (multinomial logistic)
// regression on the Iris flowers, trained by mini-batch gradient descent in plain JavaScript.
//
// It shows what a custom loop needs: `startRun` with the run's params, the epoch loop wrapped in
// `track()` from @livestep/loop (each epoch is one step; a progress bar on a terminal; CPU, memory
// and event-loop metrics under DVCLive's `system/...` names), a confusion matrix at the end and
// `await run.end()`. The run is written in DVCLive's layout to LIVESTEP_DIR (default ./livestep),
// so `dvc plots show` and `dvc metrics show` read it. Everything is seeded: every run prints the
// same numbers (the system metrics aside).
//
//   node src/train.mjs              (or: pnpm --filter ./examples/custom-loop start)
//   EPOCHS=5 node src/train.mjs     fewer epochs, for a quick try
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { confusionMatrix, startRun } from '@livestep/core';
import { readEnvironmentConfig } from '@livestep/core/sink-kit';
import { track } from '@livestep/loop';

const LEARNING_RATE = 0.2;
const EPOCHS = readEpochs(process.env.EPOCHS, 60);
const BATCH_SIZE = 16;
/** Seed of the split and of the per-epoch shuffles; change it and every number changes. */
const SEED = 42;
/** Weight decay: a little, so the weights stay small on this separable data. */
const L2 = 0.001;
/** One flower in five of each species is held out for evaluation. */
const VALIDATION_FRACTION = 0.2;

function readEpochs(text, fallback) {
  if (text === undefined || text.trim() === '') return fallback;
  const epochs = Number(text);
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new Error(`EPOCHS must be a whole number >= 1, got ${JSON.stringify(text)}`);
  }
  return epochs;
}

/** mulberry32: a tiny seeded generator, the same numbers on every machine. */
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), state | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates, in place. */
function shuffle(items, random) {
  for (let index = items.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [items[index], items[other]] = [items[other], items[index]];
  }
  return items;
}

// --- The data: Iris, a stratified 80/20 split, features standardized with training statistics.

const [header, ...lines] = readFileSync(new URL('../../datasets/iris.csv', import.meta.url), 'utf8')
  .trim()
  .split(/\r?\n/);
const featureNames = header.split(',').slice(0, -1);
const records = lines.map((line) => line.split(','));
const classNames = [...new Set(records.map((cells) => cells.at(-1)))];
const samples = records.map((cells) => ({
  x: cells.slice(0, -1).map(Number),
  y: classNames.indexOf(cells.at(-1)),
}));

const random = seededRandom(SEED);
const training = [];
const validation = [];
for (let label = 0; label < classNames.length; label++) {
  const members = samples.filter((sample) => sample.y === label);
  shuffle(members, random);
  const held = Math.round(members.length * VALIDATION_FRACTION);
  validation.push(...members.slice(0, held));
  training.push(...members.slice(held));
}

const mean = featureNames.map(
  (_, j) => training.reduce((sum, sample) => sum + sample.x[j], 0) / training.length,
);
const std = featureNames.map((_, j) =>
  Math.sqrt(
    training.reduce((sum, sample) => sum + (sample.x[j] - mean[j]) ** 2, 0) / training.length,
  ),
);
for (const sample of samples) sample.x = sample.x.map((value, j) => (value - mean[j]) / std[j]);

// --- The model: logits = x W + b, probabilities = softmax(logits), loss = cross-entropy.

const weights = featureNames.map(() => classNames.map(() => 0));
const bias = classNames.map(() => 0);

function predict(x) {
  const logits = bias.map((b, k) => x.reduce((sum, value, j) => sum + value * weights[j][k], b));
  const largest = Math.max(...logits);
  const exponentials = logits.map((logit) => Math.exp(logit - largest));
  const total = exponentials.reduce((sum, value) => sum + value, 0);
  return exponentials.map((value) => value / total);
}

const argmax = (values) => values.indexOf(Math.max(...values));

/** Mean cross-entropy and accuracy over a set of samples. */
function evaluate(set) {
  let loss = 0;
  let correct = 0;
  for (const sample of set) {
    const probabilities = predict(sample.x);
    loss -= Math.log(Math.max(probabilities[sample.y], 1e-12));
    if (argmax(probabilities) === sample.y) correct++;
  }
  return { loss: loss / set.length, accuracy: correct / set.length };
}

/** One gradient descent step on a mini-batch (cross-entropy plus L2 on the weights). */
function descend(batch) {
  const weightGradients = weights.map((row) => row.map(() => 0));
  const biasGradients = bias.map(() => 0);
  for (const sample of batch) {
    const probabilities = predict(sample.x);
    probabilities.forEach((probability, k) => {
      const error = probability - (k === sample.y ? 1 : 0);
      biasGradients[k] += error;
      sample.x.forEach((value, j) => {
        weightGradients[j][k] += error * value;
      });
    });
  }
  weights.forEach((row, j) => {
    row.forEach((weight, k) => {
      row[k] -= LEARNING_RATE * (weightGradients[j][k] / batch.length + L2 * weight);
    });
  });
  bias.forEach((_, k) => {
    bias[k] -= (LEARNING_RATE * biasGradients[k]) / batch.length;
  });
}

// --- Training, recorded: one livestep step per epoch.

const run = startRun({
  experiment: 'iris-softmax',
  params: {
    learningRate: LEARNING_RATE,
    epochs: EPOCHS,
    batchSize: BATCH_SIZE,
    seed: SEED,
    l2: L2,
    featureNames,
    classNames,
    split: { training: training.length, validation: validation.length },
  },
});

// Epoch i is step i; logging through `epochs` also shows the values in the progress bar (on a
// terminal; in a log, a line now and then once the loop runs for more than a few seconds). The
// loop records into our run and leaves it open: we end it below, after the confusion matrix.
// This model trains on the CPU, so the GPU is not asked about; leave `gpu` out to record it.
// `for await` lets the event loop turn between epochs: this training is plain synchronous
// JavaScript, and without a turn a server, DVC Studio or a tracker would only get the points
// when the loop ends (the files would still grow live).
const epochs = track(EPOCHS, { run, description: 'train', systemMetrics: { gpu: false } });
let trainMetrics;
let evalMetrics;
for await (const _epoch of epochs) {
  const order = shuffle([...training], random);
  for (let start = 0; start < order.length; start += BATCH_SIZE) {
    descend(order.slice(start, start + BATCH_SIZE));
  }
  trainMetrics = evaluate(training);
  evalMetrics = evaluate(validation);
  epochs.logMetrics({
    'train/loss': trainMetrics.loss,
    'train/accuracy': trainMetrics.accuracy,
    'eval/loss': evalMetrics.loss,
    'eval/accuracy': evalMetrics.accuracy,
  });
}

const actual = validation.map((sample) => sample.y);
const predicted = validation.map((sample) => argmax(predict(sample.x)));
run.logPlot('confusion_matrix', confusionMatrix(actual, predicted, { labels: classNames }));

const report = await run.end();
if (!report.ok) console.warn(`livestep: ${report.pending} events pending, ${report.failed} failed`);

// --- What happened, and where to look.

// The run went where the default sink put it: LIVESTEP_DIR, else ./livestep, read as core reads it.
const { directory, disabled } = readEnvironmentConfig();
const runFolder = resolve(directory);
const format = ({ loss, accuracy }) => `loss ${loss.toFixed(4)}, accuracy ${accuracy.toFixed(3)}`;
console.log(`Run "${run.name}" of experiment "${run.experiment}": ${EPOCHS} epochs`);
console.log(`  train  ${format(trainMetrics)}  (${training.length} flowers)`);
console.log(`  eval   ${format(evalMetrics)}  (${validation.length} flowers)`);
if (disabled) {
  console.log('Nothing was written (LIVESTEP_DISABLED is set).');
} else {
  const project = resolve(runFolder, '..');
  console.log(`Written to ${runFolder} (DVCLive's layout):`);
  console.log('  metrics.json, params.yaml, plots/metrics/{train,eval}/{loss,accuracy}.tsv,');
  console.log('  plots/metrics/system/... (CPU, memory, event loop),');
  console.log(
    `  plots/sklearn/confusion_matrix.json, and ${join(project, 'dvc.yaml')} pointing at them`,
  );
  console.log(`See the curves: cd ${project} && dvc plots show  (or dvc metrics show)`);
}
