#!/usr/bin/env node
// Evaluates two ONNX classifiers of the Iris flowers with onnxruntime-node and @livestep/onnx:
// the MLP and a deliberately weak model, on the same 30 held-out flowers. Each evaluation is one
// run of the experiment `iris-onnx-eval` (accuracy, per-class scores, log loss, latency, the
// confusion matrix, ROC, precision-recall and calibration curves, the model's metadata), and the
// script ends with the two runs side by side.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluate } from '@livestep/onnx';
import ort from 'onnxruntime-node';
import { CLASS_NAMES, FEATURE_NAMES, loadIris, SPLIT_SEED, stratifiedSplit } from './iris-data.mjs';

const EXPERIMENT = 'iris-onnx-eval';
/** Flowers per session.run call: six batches of five, each one step of the per-batch series. */
const BATCH_SIZE = 5;
const MODELS = [
  { name: 'mlp', file: 'iris-mlp.onnx' },
  { name: 'weak', file: 'iris-weak.onnx' },
];
/** The rows of the comparison table. */
const COMPARED_METRICS = [
  'eval/accuracy',
  'eval/top_2_accuracy',
  'eval/log_loss',
  'eval/precision/macro',
  'eval/recall/macro',
  'eval/f1/macro',
  'eval/f1/class=versicolor',
  'eval/f1/class=virginica',
  'eval/latency/p50 (ms)',
  'eval/latency/p99 (ms)',
  'eval/throughput (samples per second)',
];

const modelsFolder = fileURLToPath(new URL('../models/', import.meta.url));
/** Where the runs go: LIVESTEP_DIR (as for every livestep run), one subfolder per run. */
const outputFolder = process.env.LIVESTEP_DIR ?? 'livestep';

const { validation } = stratifiedSplit(loadIris());

/** The validation flowers as batches: a float32 [batch, 4] tensor and the species names. */
function* batches() {
  for (let start = 0; start < validation.length; start += BATCH_SIZE) {
    const rows = validation.slice(start, start + BATCH_SIZE);
    yield {
      feeds: {
        features: new ort.Tensor(
          'float32',
          Float32Array.from(rows.flatMap((row) => row.features)),
          [rows.length, FEATURE_NAMES.length],
        ),
      },
      targets: rows.map((row) => CLASS_NAMES[row.label]),
    };
  }
}

const results = [];
for (const model of MODELS) {
  const directory = join(outputFolder, model.name);
  const result = await evaluate(join(modelsFolder, model.file), batches(), {
    task: 'classification',
    classLabels: CLASS_NAMES,
    topK: [2],
    sessionOptions: { executionProviders: ['cpu'], intraOpNumThreads: 1 },
    run: {
      experiment: EXPERIMENT,
      name: model.name,
      params: {
        data: {
          dataset: 'iris',
          split: 'validation',
          samples: validation.length,
          seed: SPLIT_SEED,
          batchSize: BATCH_SIZE,
        },
      },
      // Each run in its own folder, with its own dvc.yaml inside it: by default the directory sink
      // keeps dvc.yaml beside the run folder (DVCLive's one-run-per-repository layout), which two
      // runs side by side would have to share. The sinks the environment asks for (LIVESTEP_URL,
      // DVC_STUDIO_TOKEN) are added as for any run.
      directory,
      dvcYaml: join(directory, 'dvc.yaml'),
    },
  });
  results.push({ name: model.name, directory, metrics: result.metrics });
}

const format = (value) =>
  value === undefined ? '-' : Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(4);
const nameWidth = Math.max(...COMPARED_METRICS.map((name) => name.length)) + 2;
const columnWidth = 12;
const line = (cells) =>
  cells[0].padEnd(nameWidth) +
  cells
    .slice(1)
    .map((cell) => cell.padStart(columnWidth))
    .join('');

console.log(
  `\nExperiment ${EXPERIMENT}: ${results.length} runs on ${validation.length} validation flowers\n`,
);
console.log(line(['metric', ...results.map((result) => result.name)]));
for (const name of COMPARED_METRICS) {
  console.log(line([name, ...results.map((result) => format(result.metrics[name]))]));
}
console.log('\nRuns written to:');
for (const result of results) {
  console.log(`  ${result.name.padEnd(6)} ${result.directory}`);
}
