#!/usr/bin/env node
// Trains the two example classifiers in plain JavaScript (no framework, fully deterministic) and
// writes their weights in the dense-classifier format examples/tfjs-fit exports:
//   models/iris-mlp.weights.json    4 -> 8 ReLU -> 3 softmax, all four measurements
//   models/iris-weak.weights.json   softmax regression on the two sepal measurements only
// Then `node src/export-onnx.mjs` turns them into .onnx files.
import { writeFileSync } from 'node:fs';
import {
  CLASS_NAMES,
  FEATURE_NAMES,
  loadIris,
  seededRandom,
  stratifiedSplit,
} from './iris-data.mjs';

/** Full-batch gradient descent steps; enough for both models to settle on 120 flowers. */
const EPOCHS = 500;
const LEARNING_RATE = 0.2;
const HIDDEN_UNITS = 8;
/** Seed of the initial weights (the split has its own). */
const WEIGHTS_SEED = 7;

const { training } = stratifiedSplit(loadIris());

function normalization(rows) {
  const mean = FEATURE_NAMES.map(
    (_, column) => rows.reduce((sum, row) => sum + row.features[column], 0) / rows.length,
  );
  const std = FEATURE_NAMES.map((_, column) =>
    Math.sqrt(
      rows.reduce((sum, row) => sum + (row.features[column] - mean[column]) ** 2, 0) / rows.length,
    ),
  );
  return { mean, std };
}

const matrix = (rows, columns, fill) =>
  Array.from({ length: rows }, (_, row) =>
    Array.from({ length: columns }, (_, column) => fill(row, column)),
  );

function softmax(logits) {
  const maximum = Math.max(...logits);
  const exponentials = logits.map((value) => Math.exp(value - maximum));
  const sum = exponentials.reduce((a, b) => a + b, 0);
  return exponentials.map((value) => value / sum);
}

function dense(input, layer) {
  return layer.bias.map((bias, unit) =>
    input.reduce((sum, value, index) => sum + value * layer.kernel[index][unit], bias),
  );
}

/**
 * Trains layers (each { units, activation, kernel [inputs][units], bias }) by full-batch gradient
 * descent on cross-entropy. `mask` zeroes input features the model must not use.
 */
function train(layers, inputs, labels, mask) {
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    const kernelGradients = layers.map((layer) => layer.kernel.map((row) => row.map(() => 0)));
    const biasGradients = layers.map((layer) => layer.bias.map(() => 0));
    inputs.forEach((input, sample) => {
      const activations = [input];
      for (const layer of layers) {
        const z = dense(activations.at(-1), layer);
        activations.push(
          layer.activation === 'relu' ? z.map((value) => Math.max(0, value)) : softmax(z),
        );
      }
      // cross-entropy with softmax: dL/dz = p - onehot
      let delta = activations.at(-1).map((p, index) => p - (index === labels[sample] ? 1 : 0));
      for (let index = layers.length - 1; index >= 0; index--) {
        const layer = layers[index];
        const input = activations[index];
        input.forEach((value, row) => {
          delta.forEach((d, unit) => {
            kernelGradients[index][row][unit] += (value * d) / inputs.length;
          });
        });
        delta.forEach((d, unit) => {
          biasGradients[index][unit] += d / inputs.length;
        });
        if (index > 0) {
          delta = input.map((value, row) =>
            value <= 0 ? 0 : delta.reduce((sum, d, unit) => sum + d * layer.kernel[row][unit], 0),
          );
        }
      }
    });
    layers.forEach((layer, index) => {
      layer.kernel.forEach((row, rowIndex) => {
        row.forEach((_, unit) => {
          const allowed = index > 0 || mask[rowIndex];
          row[unit] = allowed
            ? row[unit] - LEARNING_RATE * kernelGradients[index][rowIndex][unit]
            : 0;
        });
      });
      layer.bias.forEach((_, unit) => {
        layer.bias[unit] -= LEARNING_RATE * biasGradients[index][unit];
      });
    });
  }
  return layers;
}

function build(name, layers, mask, description) {
  const scaling = normalization(training);
  const inputs = training.map((row) =>
    row.features.map((value, column) => (value - scaling.mean[column]) / scaling.std[column]),
  );
  train(
    layers,
    inputs,
    training.map((row) => row.label),
    mask,
  );
  const round = (value) => Number(value.toPrecision(7));
  const weights = {
    format: 'livestep-dense-classifier/1',
    description,
    featureNames: FEATURE_NAMES,
    classNames: CLASS_NAMES,
    normalization: { mean: scaling.mean.map(round), std: scaling.std.map(round) },
    layers: layers.map((layer) => ({
      units: layer.units,
      activation: layer.activation,
      kernel: layer.kernel.map((row) => row.map(round)),
      bias: layer.bias.map(round),
    })),
  };
  const path = new URL(`../models/${name}.weights.json`, import.meta.url);
  writeFileSync(path, `${JSON.stringify(weights, null, 2)}\n`);
  console.log(`wrote ${path.pathname}`);
}

const random = seededRandom(WEIGHTS_SEED);
/** Glorot-uniform initial weights, from the seeded generator. */
const glorot = (inputs, units) => {
  const limit = Math.sqrt(6 / (inputs + units));
  return matrix(inputs, units, () => (random() * 2 - 1) * limit);
};

build(
  'iris-mlp',
  [
    {
      units: HIDDEN_UNITS,
      activation: 'relu',
      kernel: glorot(4, HIDDEN_UNITS),
      bias: new Array(HIDDEN_UNITS).fill(0),
    },
    { units: 3, activation: 'softmax', kernel: glorot(HIDDEN_UNITS, 3), bias: [0, 0, 0] },
  ],
  [true, true, true, true],
  'Iris MLP (4-8-3), trained in plain JS by examples/onnx-eval/src/train-weights.mjs',
);
build(
  'iris-weak',
  [{ units: 3, activation: 'softmax', kernel: matrix(4, 3, () => 0), bias: [0, 0, 0] }],
  [true, true, false, false],
  'Deliberately weak: softmax regression on the sepal measurements only (petal weights are 0)',
);
