/**
 * @livestep/tfjs: what one livestepCallback() costs a TensorFlow.js fit, in wall time.
 *
 * The worst case for a per-batch hook: a tiny dense model trained on many small batches (2,000
 * samples, batch size 8: 250 batches per epoch), where tfjs's own work per batch is smallest.
 * Each round runs the same fit three times, in a rotating order: no callback (the baseline in the
 * same run), the callback logging per epoch, and the callback logging every batch (which reads
 * the batch's loss and accuracy back from the backend). The figure is the median over rounds of
 * the paired ratio (variant / baseline of the same round), so slow drift of the machine cancels.
 *
 * Targets (wall time): at most 2% overhead per epoch, at most 10% logging every batch. The same
 * ratios in this process's CPU time are printed beside them: on a busy machine they show whether
 * a wall-time miss is the callback's or the neighbours'.
 * Prints a table, then one line `RESULT <json>`: { name, metrics, targets: [{ name, value, limit, pass, level }] }.
 */
import { createNoopSink } from '@livestep/core';
import { livestepCallback } from '@livestep/tfjs';
import * as tf from '@tensorflow/tfjs';
import { median, RESULT_PREFIX, round } from './lib/report.mjs';

const SAMPLES = 2_000;
const BATCH_SIZE = 8;
/**
 * Three epochs per fit: the per-fit work (run start, params, model summary) is spread the way a real
 * fit spreads it, while the fits of a round stay close together in time (less drift between them).
 */
const EPOCHS = 3;
/** Rounds measured after the warm-up; each round holds one fit of every variant. */
const ROUNDS = 15;
/** Rounds run first and thrown away: the JIT and tfjs's kernel caches warm up. */
const WARMUP_ROUNDS = 3;
const PER_EPOCH_LIMIT = 1.02;
const EVERY_BATCH_LIMIT = 1.1;

const VARIANTS = [
  { name: 'none', callbacks: () => [] },
  { name: 'per-epoch', callbacks: () => [livestepCallback({ runOptions: quietRun() })] },
  {
    name: 'every-batch',
    callbacks: () => [livestepCallback({ runOptions: quietRun(), logEveryBatches: 1 })],
  },
];

function quietRun() {
  return {
    experiment: 'bench',
    name: 'tfjs-callback-overhead',
    sinks: [createNoopSink()],
    exitHooks: false,
    collectGit: false,
    collectMachine: false,
  };
}

function makeModel() {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        units: 8,
        inputShape: [4],
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  model.compile({
    optimizer: tf.train.sgd(0.05),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}

/** Wall time of one fit, and this process's CPU time in it (which other processes barely touch). */
async function timeFit(variant, x, y) {
  const model = makeModel();
  const callbacks = variant.callbacks();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await model.fit(x, y, { epochs: EPOCHS, batchSize: BATCH_SIZE, verbose: 0, callbacks });
  const wall = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  model.dispose();
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
}

// The cpu banner goes to console.warn on the first tensor; it is noise in a benchmark table.
const warn = console.warn;
console.warn = () => {};
await tf.setBackend('cpu');
const x = tf.randomUniform([SAMPLES, 4], 0, 1, 'float32', 3);
const y = tf.oneHot(tf.randomUniform([SAMPLES], 0, 3, 'int32', 4), 3);
console.warn = warn;

const times = Object.fromEntries(VARIANTS.map((variant) => [variant.name, []]));
const cpuTimes = Object.fromEntries(VARIANTS.map((variant) => [variant.name, []]));
for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
  // Rotate who goes first, so no variant always runs on a cold or a warm machine.
  const order = VARIANTS.map((_, index) => VARIANTS[(index + round) % VARIANTS.length]);
  const roundTimes = {};
  for (const variant of order) roundTimes[variant.name] = await timeFit(variant, x, y);
  if (round >= WARMUP_ROUNDS) {
    for (const variant of VARIANTS) {
      times[variant.name].push(roundTimes[variant.name].wall);
      cpuTimes[variant.name].push(roundTimes[variant.name].cpu);
    }
  }
}
tf.dispose([x, y]);

const ratios = (name) => times[name].map((time, index) => time / times.none[index]);
const cpuRatios = (name) => cpuTimes[name].map((time, index) => time / cpuTimes.none[index]);
const perEpoch = median(ratios('per-epoch'));
const everyBatch = median(ratios('every-batch'));
const batchesPerFit = Math.ceil(SAMPLES / BATCH_SIZE) * EPOCHS;

console.log(
  `tfjs fit, ${SAMPLES} samples, batch size ${BATCH_SIZE}, ${EPOCHS} epochs (${batchesPerFit} batches), cpu backend, median of ${ROUNDS} rounds`,
);
for (const variant of VARIANTS) {
  const ms = median(times[variant.name]);
  const ratio =
    variant.name === 'none'
      ? ''
      : `  ratio ${median(ratios(variant.name)).toFixed(4)} (cpu time ${median(cpuRatios(variant.name)).toFixed(4)})`;
  console.log(
    `  ${variant.name.padEnd(12)} ${ms.toFixed(1).padStart(8)} ms  (${((ms * 1000) / batchesPerFit).toFixed(1)} µs per batch)${ratio}`,
  );
}
console.log(`per-epoch overhead ratio:   ${perEpoch.toFixed(4)} (limit ${PER_EPOCH_LIMIT})`);
console.log(`every-batch overhead ratio: ${everyBatch.toFixed(4)} (limit ${EVERY_BATCH_LIMIT})`);

const result = {
  name: 'tfjs-callback-overhead',
  metrics: {
    baselineMs: round(median(times.none), 1),
    perEpochMs: round(median(times['per-epoch']), 1),
    everyBatchMs: round(median(times['every-batch']), 1),
    perEpochRatio: round(perEpoch, 4),
    everyBatchRatio: round(everyBatch, 4),
    perEpochCpuRatio: round(median(cpuRatios('per-epoch')), 4),
    everyBatchCpuRatio: round(median(cpuRatios('every-batch')), 4),
    batchesPerFit,
    rounds: ROUNDS,
  },
  targets: [
    {
      name: 'per-epoch logging wall-time ratio',
      value: round(perEpoch, 4),
      limit: PER_EPOCH_LIMIT,
      pass: perEpoch <= PER_EPOCH_LIMIT,
      level: 'target',
    },
    {
      name: 'every-batch logging wall-time ratio',
      value: round(everyBatch, 4),
      limit: EVERY_BATCH_LIMIT,
      pass: everyBatch <= EVERY_BATCH_LIMIT,
      level: 'target',
    },
  ],
};
console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`);
