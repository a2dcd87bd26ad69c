#!/usr/bin/env node
// A real TensorFlow.js fit recorded by livestepCallback, paced so a test can watch it train: a
// small dense network learns y = sum(x) for EPOCHS epochs, and a second callback waits
// EPOCH_DELAY_MS after each epoch (training time on two shared cores varies; the pause makes the
// run last at least epochs x delay). The run goes where the environment says (LIVESTEP_URL,
// LIVESTEP_DIR). THROW_AT_EPOCH makes that callback throw at that epoch: the fit fails and the
// run ends failed, as a user's script that catches the error does. LOG_IMAGES=1 adds images and
// a note.
import { createRequire } from 'node:module';
import { startRun } from '@livestep/core';
import { livestepCallback } from '@livestep/tfjs';

// @tensorflow/tfjs is the tfjs-fit example's dependency; this file borrows it.
const require = createRequire(new URL('../../../examples/tfjs-fit/package.json', import.meta.url));
const tf = require('@tensorflow/tfjs');

const number = (name, fallback) =>
  process.env[name] === undefined || process.env[name] === ''
    ? fallback
    : Number(process.env[name]);
const epochs = number('EPOCHS', 40);
const delayMs = number('EPOCH_DELAY_MS', 0);
const throwAt = number('THROW_AT_EPOCH', -1);
const learningRate = number('LR', 0.05);

const warn = console.warn;
console.warn = () => {}; // the cpu backend's tfjs-node hint
await tf.setBackend('cpu');
await tf.ready();
tf.tidy(() => tf.zeros([1]));
console.warn = warn;

const run = startRun({
  experiment: process.env.EXPERIMENT || 'paced',
  ...(process.env.RUN_NAME && { name: process.env.RUN_NAME }),
  params: { optimizer: { name: 'sgd', lr: learningRate }, epochs, hidden: 8 },
  tags: ['browser-test'],
});
const model = tf.sequential({
  layers: [
    tf.layers.dense({ units: 8, inputShape: [4], activation: 'relu' }),
    tf.layers.dense({ units: 1 }),
  ],
});
model.compile({ optimizer: tf.train.sgd(learningRate), loss: 'meanSquaredError' });
const x = tf.randomNormal([64, 4], 0, 1, 'float32', 7);
const y = x.sum(1, true);
/** A 1x1 PNG: LOG_IMAGES=1 logs it every other epoch, with a checkpoint note at epoch 2. */
const PIXEL = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
const logImages = process.env.LOG_IMAGES === '1';
const pace = new tf.CustomCallback({
  onEpochEnd: async (epoch) => {
    if (epoch === throwAt) throw new Error(`the loss went NaN at epoch ${epoch} (on purpose)`);
    if (logImages && epoch % 2 === 0) run.logImage('samples/pixel', PIXEL, { step: epoch });
    if (logImages && epoch === 2) run.annotate('checkpoint saved', { step: epoch });
    if (delayMs > 0) await new Promise((done) => setTimeout(done, delayMs));
  },
});
try {
  await model.fit(x, y, {
    epochs,
    batchSize: 16,
    verbose: 0,
    callbacks: [livestepCallback({ run }), pace],
  });
  const report = await run.end();
  console.log(`trained ${epochs} epochs; delivered: ${report.ok}`);
  if (!report.ok) process.exitCode = 1;
} catch (error) {
  await run.end('failed', { error });
  console.error(`training failed: ${error.message}`);
  process.exitCode = 2;
}
