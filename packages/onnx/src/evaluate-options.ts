/**
 * What evaluate() takes and gives: its options, a batch, the samples a custom metric sees, the
 * result; and checkOptions(), which checks the options once, before any run starts, and turns
 * them into the settings the evaluation reads.
 */

import type { Run, StartRunOptions } from '@livestep/core';
import { assertValidName } from '@livestep/core/protocol';
import type { InferenceSession } from 'onnxruntime-common';
import type { ClassificationSummary } from './classification-metrics.js';
import { DEFAULT_CALIBRATION_BINS } from './classifier-curves.js';
import { throwEvaluateError, warnAndAnnotate } from './evaluate-problems.js';
import type { LatencySummary } from './latency-stats.js';
import { DEFAULT_METRIC_PREFIX, type MetricNames, metricNames } from './metric-names.js';
import type { OnnxRuntimeModule } from './onnx-runtime.js';
import type { ScoreKind } from './output-scores.js';
import type { RegressionSummary } from './regression-metrics.js';
import type { BatchTargets } from './targets.js';
import { unknownOptionMessages } from './unknown-options.js';

/**
 * Top-k accuracies recorded by default; a k is skipped when the model has no more than k classes
 * (it would always be 1). Top-5 is the customary companion of accuracy for many-class models.
 */
export const DEFAULT_TOP_K: readonly number[] = [5];

/**
 * Untimed runs of the first batch before timing starts: the first run of a session allocates its
 * buffers and is often several times slower, which would distort the percentiles of a short
 * evaluation.
 */
export const DEFAULT_WARMUP_RUNS = 1;

export const EVALUATION_TASKS = ['classification', 'regression', 'none'] as const;

/**
 * `classification`: the output is logits or probabilities, one per class (or one for the
 * positive class of a binary model). `regression`: the output is the predicted values.
 * `none`: latency and custom metrics only.
 */
export type EvaluationTask = (typeof EVALUATION_TASKS)[number];

/** One batch: the feeds for `session.run`, and the true classes or values of its samples. */
export interface EvaluationBatch {
  feeds: InferenceSession.FeedsType;
  /**
   * Classification: class indices, class labels (see `classLabels`) or one-hot rows.
   * Regression: the target values, one row of output values per sample. An array, a typed
   * array, an array of rows (`[[1, 0, 0], ...]`, `[[1.5], [2]]`) or a tensor. Optional for the
   * `none` task.
   */
  targets?: BatchTargets;
}

/** Everything a custom metric sees, once, after the last batch. */
export interface EvaluationSamples {
  /** Per sample: the class probabilities (classification) or the output values. */
  predictions: number[][];
  /**
   * Per sample: the class index (classification) or the target values (regression, `none`);
   * empty when the batches have no targets.
   */
  targets: number[] | number[][];
}

/** A metric of your own: returns one number (or a promise of one), recorded as `<prefix>/<name>`. */
export type CustomMetric = (samples: EvaluationSamples) => number | PromiseLike<number>;

export interface EvaluateOptions {
  task: EvaluationTask;
  /**
   * The run to record into (left open), or options for a run that evaluate() starts and ends
   * (ended as failed when the evaluation throws). A run evaluate() starts is named after the
   * model file unless `name` says otherwise, and written to its own folder,
   * `<LIVESTEP_DIR or livestep>/<run name>`, unless `directory` or `sinks` say otherwise.
   */
  run?: Run | StartRunOptions;
  /** First segment of every name (default `eval`). */
  prefix?: string;
  /** The output to score (default: the session's first output). */
  output?: string;
  /**
   * Classification: whether the output is `probabilities` or `logits` (softmax, or sigmoid for
   * one score per sample). `auto` (default) decides from the first batch: probabilities when
   * every value is in [0, 1] and every row sums to 1.
   */
  scores?: 'auto' | ScoreKind;
  /** Classification: class names by index; targets may then be names too. Default "0", "1", ... */
  classLabels?: readonly string[];
  /** Binary classification: the positive class of the curves (index or label; default 1). */
  positiveClass?: number | string;
  /** Classification: the k of the top-k accuracies (default [5]; only k < classes is recorded). */
  topK?: readonly number[];
  /** Classification: bins of the calibration curve (default 5). */
  calibrationBins?: number;
  /** Record the confusion matrix and the curves (default true). */
  plots?: boolean;
  /** Your own metrics, by name. */
  metrics?: Record<string, CustomMetric>;
  /** Untimed runs of the first batch before timing (default 1). */
  warmupRuns?: number;
  /**
   * Options to create the session with when a path or bytes are given; for a session you
   * created, pass the options you used so they are recorded.
   */
  sessionOptions?: InferenceSession.SessionOptions;
  /** For a session you created: the model file (path or bytes), to record its header, size and SHA-256. */
  modelFile?: string | Uint8Array;
  /** The onnxruntime module to create sessions with (default: `import('onnxruntime-node')`). */
  runtime?: OnnxRuntimeModule;
}

export interface EvaluationResult {
  run: Run;
  /** Every summary metric recorded, by name; per-class values as `eval/precision/class=<label>`. */
  metrics: Record<string, number>;
  samples: number;
  batches: number;
  /** Milliseconds per session.run call. */
  latency: LatencySummary;
  classification?: ClassificationSummary;
  regression?: RegressionSummary;
}

/** The options, checked, as the evaluation reads them. */
export type EvaluationSettings = ReturnType<typeof checkOptions>;

/** Every option evaluate() reads; `satisfies` keeps the list in step with EvaluateOptions. */
const OPTION_NAMES = Object.keys({
  task: true,
  run: true,
  prefix: true,
  output: true,
  scores: true,
  classLabels: true,
  positiveClass: true,
  topK: true,
  calibrationBins: true,
  plots: true,
  metrics: true,
  warmupRuns: true,
  sessionOptions: true,
  modelFile: true,
  runtime: true,
} satisfies Record<keyof EvaluateOptions, true>);

/** Whether two names would share a path: equal, or one a folder of the other in metrics.json. */
function namesClash(left: string, right: string): boolean {
  return left === right || left.startsWith(`${right}/`) || right.startsWith(`${left}/`);
}

/** The names evaluate() records itself for a task, which a custom metric may not take. */
function builtInNames(names: MetricNames, task: EvaluationTask, topK: readonly number[]): string[] {
  const common = [
    names.samples,
    names.latencyMean,
    names.latencyP50,
    names.latencyP90,
    names.latencyP99,
    names.throughput,
    names.batchLatency,
    names.batchThroughput,
  ];
  if (task === 'regression') {
    return [
      ...common,
      names.meanAbsoluteError,
      names.meanSquaredError,
      names.rootMeanSquaredError,
      names.r2,
    ];
  }
  if (task !== 'classification') return common;
  const scores = ['precision', 'recall', 'f1'] as const;
  return [
    ...common,
    names.accuracy,
    names.logLoss,
    ...topK.map((k) => names.topKAccuracy(k)),
    ...scores.map((metric) => names.classMetric(metric)),
    names.rankingMetric('roc_auc'),
    names.rankingMetric('average_precision'),
  ];
}

/** Checks the options (a mistake throws, naming the fix) and fills in the defaults. */
export function checkOptions(options: EvaluateOptions) {
  if (typeof options !== 'object' || options === null) {
    throwEvaluateError(
      `needs options with a task; pass { task: 'classification' } (or 'regression', 'none')`,
    );
  }
  for (const message of unknownOptionMessages(options, OPTION_NAMES, 'evaluate()'))
    warnAndAnnotate(message);
  if (!EVALUATION_TASKS.includes(options.task)) {
    throwEvaluateError(
      `option "task" is ${JSON.stringify(options.task)}; pass one of ${EVALUATION_TASKS.join(', ')}`,
    );
  }
  const prefix = options.prefix ?? DEFAULT_METRIC_PREFIX;
  assertValidName(prefix, 'metric');
  const scores = options.scores ?? 'auto';
  if (!['auto', 'probabilities', 'logits'].includes(scores)) {
    throwEvaluateError(
      `option "scores" is ${JSON.stringify(scores)}; pass 'auto', 'probabilities' or 'logits'`,
    );
  }
  const topK = options.topK ?? DEFAULT_TOP_K;
  if (!Array.isArray(topK) || !topK.every((k) => Number.isInteger(k) && k >= 1)) {
    throwEvaluateError(`option "topK" must be an array of integers >= 1, such as [5]`);
  }
  const warmupRuns = options.warmupRuns ?? DEFAULT_WARMUP_RUNS;
  if (!Number.isInteger(warmupRuns) || warmupRuns < 0) {
    throwEvaluateError(`option "warmupRuns" is ${warmupRuns}; pass an integer >= 0`);
  }
  const calibrationBins = options.calibrationBins ?? DEFAULT_CALIBRATION_BINS;
  if (!Number.isInteger(calibrationBins) || calibrationBins < 1) {
    throwEvaluateError(`option "calibrationBins" is ${calibrationBins}; pass an integer >= 1`);
  }
  const classLabels = options.classLabels;
  if (classLabels !== undefined) {
    if (!Array.isArray(classLabels) || !classLabels.every((label) => typeof label === 'string')) {
      throwEvaluateError(`option "classLabels" must be an array of strings, one per class`);
    }
    if (new Set(classLabels).size !== classLabels.length) {
      throwEvaluateError(`option "classLabels" has a label twice; class labels must be unique`);
    }
  }
  const names = metricNames(prefix);
  const reserved = builtInNames(names, options.task, topK);
  const customMetrics = Object.entries(options.metrics ?? {});
  for (const [name, metric] of customMetrics) {
    if (typeof metric !== 'function') {
      throwEvaluateError(`option "metrics.${name}" is not a function; pass (samples) => number`);
    }
    const recordedAs = names.custom(name);
    assertValidName(recordedAs, 'metric');
    const clash = reserved.find((builtIn) => namesClash(recordedAs, builtIn));
    if (clash !== undefined) {
      throwEvaluateError(
        `option "metrics.${name}" would be recorded as "${recordedAs}", which clashes with "${clash}" that evaluate() records itself; give it another name, such as "custom_${name.replaceAll('/', '_')}"`,
      );
    }
  }
  if (options.output !== undefined && typeof options.output !== 'string') {
    throwEvaluateError(`option "output" must be the name of an output`);
  }
  return {
    task: options.task,
    prefix,
    names,
    topKAsked: options.topK !== undefined,
    scores,
    topK: [...new Set(topK)].sort((left, right) => left - right),
    warmupRuns,
    calibrationBins,
    classLabels: classLabels as readonly string[] | undefined,
    /** True when the class labels are the model's `class_names` metadata, not an option. */
    classLabelsFromModel: false,
    positiveClass: options.positiveClass,
    customMetrics,
    plots: options.plots !== false,
  };
}
