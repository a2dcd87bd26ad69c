#!/usr/bin/env node
// A TensorFlow.js classifier recorded with one livestep callback: a small dense network learns
// the Iris species from four flower measurements, with validation data, and the callback records
// the params, the metrics of every epoch, and a confusion matrix, ROC and precision-recall curves
// on the validation flowers at the end. The trained weights are written as JSON (for an export to
// ONNX) and recorded as the run's model artifact.
//
//   node src/main.mjs                (or, from the repository root: npm run demo)
//   EPOCHS=5 node src/main.mjs       fewer epochs, for a quick try
//   TFJS_BACKEND=cpu node src/main.mjs
//
// Where things go: the run to LIVESTEP_DIR (default ./livestep, in DVCLive's layout), the weights
// to LIVESTEP_MODEL_PATH (default ./artifacts/iris-classifier.json).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { startRun } from '@livestep/core';
import { readEnvironmentConfig } from '@livestep/core/sink-kit';
import { livestepCallback } from '@livestep/tfjs';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const EPOCHS = readPositiveInteger('EPOCHS', 60);
const BATCH_SIZE = 16;
const LEARNING_RATE = 0.02;
const HIDDEN_UNITS = 12;
/** Seeds the split and the initial weights: every run starts from the same place. */
const SEED = 7;
/** One flower in five of each species is held out for validation (stratified). */
const VALIDATION_FRACTION = 0.2;
const BACKEND = process.env.TFJS_BACKEND?.trim() || 'wasm';
const MODEL_PATH = resolve(
  process.env.LIVESTEP_MODEL_PATH?.trim() || join('artifacts', 'iris-classifier.json'),
);
/** The line the cpu backend prints once in Node, suggesting tfjs-node; noise for this demo. */
const TFJS_NODE_HINT = 'looks like you are running TensorFlow.js in Node.js';

function readPositiveInteger(variable, fallback) {
  const text = process.env[variable];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${variable} must be a whole number >= 1, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** A small seeded generator (xorshift32): the same split on every machine. */
function seededRandom(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
}

function shuffleInPlace(items, random) {
  for (let index = items.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [items[index], items[other]] = [items[other], items[index]];
  }
}

async function startBackend(name) {
  if (name === 'wasm') {
    const wasmFolder = dirname(
      createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'),
    );
    setWasmPaths(`${wasmFolder}/`);
  }
  const warn = console.warn;
  console.warn = (...message) => {
    if (!String(message[0]).includes(TFJS_NODE_HINT)) warn(...message);
  };
  try {
    if (!(await tf.setBackend(name))) throw new Error(`the tfjs backend "${name}" did not start`);
    await tf.ready();
    tf.tidy(() => tf.zeros([1])); // the cpu backend prints its hint on the first tensor
  } finally {
    console.warn = warn;
  }
}

// --- The data: Iris, stratified 80/20, standardized with the training flowers' statistics.

function loadIris() {
  const text = readFileSync(new URL('../../datasets/iris.csv', import.meta.url), 'utf8');
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const featureNames = header.split(',').slice(0, -1);
  const rows = lines.map((line) => line.split(','));
  const classNames = [...new Set(rows.map((cells) => cells.at(-1)))];
  const samples = rows.map((cells) => ({
    features: cells.slice(0, -1).map(Number),
    label: classNames.indexOf(cells.at(-1)),
  }));
  return { featureNames, classNames, samples };
}

function stratifiedSplit(samples, classCount, random) {
  const training = [];
  const validation = [];
  for (let label = 0; label < classCount; label++) {
    const members = samples.filter((sample) => sample.label === label);
    shuffleInPlace(members, random);
    const held = Math.round(members.length * VALIDATION_FRACTION);
    validation.push(...members.slice(0, held));
    training.push(...members.slice(held));
  }
  shuffleInPlace(training, random);
  return { training, validation };
}

function standardization(samples, featureCount) {
  const mean = [];
  const std = [];
  for (let feature = 0; feature < featureCount; feature++) {
    const values = samples.map((sample) => sample.features[feature]);
    const average = values.reduce((sum, value) => sum + value, 0) / values.length;
    const variance = values.reduce((sum, value) => sum + (value - average) ** 2, 0) / values.length;
    mean.push(average);
    std.push(Math.sqrt(variance) || 1);
  }
  return { mean, std };
}

function toTensors(samples, normalization, classCount) {
  const x = tf.tensor2d(
    samples.map((sample) =>
      sample.features.map(
        (value, feature) => (value - normalization.mean[feature]) / normalization.std[feature],
      ),
    ),
  );
  const y = tf.oneHot(
    tf.tensor1d(
      samples.map((sample) => sample.label),
      'int32',
    ),
    classCount,
  );
  return { x, y };
}

// --- The model and its weights as JSON (format livestep-dense-classifier/1).

function buildModel(featureCount, classCount) {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        units: HIDDEN_UNITS,
        inputShape: [featureCount],
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: SEED }),
      }),
      tf.layers.dense({
        units: classCount,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: SEED + 1 }),
      }),
    ],
  });
  model.compile({
    optimizer: tf.train.adam(LEARNING_RATE),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}

async function denseClassifierJson(model, featureNames, classNames, normalization) {
  const layers = [];
  for (const layer of model.layers) {
    const [kernel, bias] = layer.getWeights();
    layers.push({
      units: layer.getConfig().units,
      activation: layer.getConfig().activation,
      kernel: await kernel.array(),
      bias: await bias.array(),
    });
  }
  return {
    format: 'livestep-dense-classifier/1',
    featureNames,
    classNames,
    normalization,
    layers,
  };
}

// --- Training, recorded by one callback.

await startBackend(BACKEND);
const { featureNames, classNames, samples } = loadIris();
const { training, validation } = stratifiedSplit(samples, classNames.length, seededRandom(SEED));
const normalization = standardization(training, featureNames.length);
const train = toTensors(training, normalization, classNames.length);
const held = toTensors(validation, normalization, classNames.length);

const run = startRun({
  experiment: 'iris',
  params: {
    dataset: { name: 'iris', samples: samples.length, features: featureNames, classes: classNames },
    split: { validationFraction: VALIDATION_FRACTION, stratified: true, seed: SEED },
  },
});
const model = buildModel(featureNames.length, classNames.length);

let history;
try {
  history = await model.fit(train.x, train.y, {
    epochs: EPOCHS,
    batchSize: BATCH_SIZE,
    validationData: [held.x, held.y],
    verbose: 0,
    callbacks: [
      livestepCallback({
        run,
        evaluation: { x: held.x, y: held.y, classNames, plots: ['confusion', 'roc', 'pr'] },
      }),
    ],
  });

  mkdirSync(dirname(MODEL_PATH), { recursive: true });
  const weights = await denseClassifierJson(model, featureNames, classNames, normalization);
  writeFileSync(MODEL_PATH, `${JSON.stringify(weights, null, 2)}\n`);
  await run.logArtifact('iris-classifier', MODEL_PATH, { type: 'model' });
} catch (error) {
  await run.end('failed', { error });
  throw error;
}
const report = await run.end();
tf.dispose([train.x, train.y, held.x, held.y]);

// --- Where it went and how it did.

const last = (key) => history.history[key].at(-1);
const format = (value) => Number(value).toFixed(4);
const directory = resolve(readEnvironmentConfig().directory);
const shown = (path) => relative(process.cwd(), path) || '.';
console.log(
  `Trained on ${training.length} flowers, validated on ${validation.length} (${BACKEND} backend, ${history.epoch.length} epochs).`,
);
console.log(`Run "${run.name}" (experiment "${run.experiment}") recorded in ${directory}`);
console.log(`  train/loss ${format(last('loss'))}  train/acc ${format(last('acc'))}`);
console.log(`  eval/loss  ${format(last('val_loss'))}  eval/acc  ${format(last('val_acc'))}`);
console.log('Files:');
console.log(
  `  ${shown(join(directory, 'metrics.json'))}, ${shown(join(directory, 'params.yaml'))}`,
);
console.log(`  ${shown(join(directory, 'plots', 'metrics'))}/  one TSV per metric and epoch`);
console.log(
  `  ${shown(join(directory, 'plots', 'sklearn'))}/  confusion matrix, ROC and PR per class`,
);
console.log(`  ${shown(MODEL_PATH)}  the trained weights (livestep-dense-classifier/1)`);
console.log('  `dvc plots show` and `dvc metrics show` beside the dvc.yaml read them.');
if (!report.ok) {
  console.warn(`Not everything was delivered: ${JSON.stringify(report.sinks)}`);
  process.exitCode = 1;
}
