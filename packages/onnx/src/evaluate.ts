/**
 * evaluate(): runs a model over a dataset and records, in a livestep run, the latency and
 * throughput of every batch, the summary metrics of the task, the classifier's plots and the
 * model's metadata. See metric-names.ts for what is recorded under which name.
 */
import {
  assertValidName,
  confusionMatrix,
  type Run,
  type StartRunOptions,
  startRun,
} from '@livestep/core';
import type { InferenceSession } from 'onnxruntime-common';
import { type ClassificationSummary, classificationMetrics } from './classification-metrics.js';
import {
  type ClassCurves,
  classifierCurves,
  DEFAULT_CALIBRATION_BINS,
} from './classifier-curves.js';
import { type LatencySummary, samplesPerSecond, summarizeLatencies } from './latency-stats.js';
import {
  DEFAULT_METRIC_PREFIX,
  labelledName,
  type MetricNames,
  metricNames,
} from './metric-names.js';
import { classNamesFromMetadata, collectModelMetadata } from './model-metadata.js';
import { loadOnnxRuntime, type OnnxRuntimeModule, readRuntimeVersions } from './onnx-runtime.js';
import {
  classProbabilities,
  detectScoreKind,
  findNonFinite,
  type OutputRows,
  outputRows,
  type ScoreKind,
} from './output-scores.js';
import {
  createRegressionAccumulator,
  type RegressionAccumulator,
  type RegressionSummary,
} from './regression-metrics.js';
import { createRegressionPlotData, type RegressionPlotData } from './regression-plots.js';
import { evaluationRunOptions } from './run-folder.js';
import { describeSessionOptions } from './session-options.js';
import { type BatchTargets, toClassIndices, toNumbers } from './targets.js';
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

/**
 * Per run, the step the next evaluation's first batch is logged at, by series (the prefix's
 * `batch/latency (ms)`): the per-batch series of a second evaluation into the same run continue
 * where the first stopped, so their steps never repeat.
 */
const nextBatchSteps = new WeakMap<Run, Map<string, number>>();

/** The `classLabelsFrom` param when the labels are the model's metadata. */
const CLASS_LABELS_FROM_MODEL = 'model metadata class_names';

/**
 * How long evaluate() lets the run's start-up work settle before timing the first batch: a new
 * run collects git info in child processes and writes its first files, which would otherwise
 * land in the latency of the first batches. Bounded, so a slow sink never holds the evaluation.
 */
const SETTLE_TIMEOUT_MS = 2_000;

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

type Settings = ReturnType<typeof checkOptions>;

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

function fail(message: string): never {
  throw new TypeError(`livestep: evaluate() ${message}`);
}

/** A problem that does not stop the evaluation: a process warning, and a note on the run. */
function warn(message: string, run?: Run): void {
  process.emitWarning(message, { type: 'LivestepWarning' });
  run?.annotate(message, { level: 'warning' });
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function isSession(value: unknown): value is InferenceSession {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as InferenceSession).run === 'function'
  );
}

function isRun(value: unknown): value is Run {
  return typeof (value as Run | undefined)?.logMetric === 'function';
}

function checkOptions(options: EvaluateOptions) {
  if (typeof options !== 'object' || options === null) {
    fail(`needs options with a task; pass { task: 'classification' } (or 'regression', 'none')`);
  }
  for (const message of unknownOptionMessages(options, OPTION_NAMES, 'evaluate()')) warn(message);
  if (!EVALUATION_TASKS.includes(options.task)) {
    fail(
      `option "task" is ${JSON.stringify(options.task)}; pass one of ${EVALUATION_TASKS.join(', ')}`,
    );
  }
  const prefix = options.prefix ?? DEFAULT_METRIC_PREFIX;
  assertValidName(prefix, 'metric');
  const scores = options.scores ?? 'auto';
  if (!['auto', 'probabilities', 'logits'].includes(scores)) {
    fail(`option "scores" is ${JSON.stringify(scores)}; pass 'auto', 'probabilities' or 'logits'`);
  }
  const topK = options.topK ?? DEFAULT_TOP_K;
  if (!Array.isArray(topK) || !topK.every((k) => Number.isInteger(k) && k >= 1)) {
    fail(`option "topK" must be an array of integers >= 1, such as [5]`);
  }
  const warmupRuns = options.warmupRuns ?? DEFAULT_WARMUP_RUNS;
  if (!Number.isInteger(warmupRuns) || warmupRuns < 0) {
    fail(`option "warmupRuns" is ${warmupRuns}; pass an integer >= 0`);
  }
  const calibrationBins = options.calibrationBins ?? DEFAULT_CALIBRATION_BINS;
  if (!Number.isInteger(calibrationBins) || calibrationBins < 1) {
    fail(`option "calibrationBins" is ${calibrationBins}; pass an integer >= 1`);
  }
  const classLabels = options.classLabels;
  if (classLabels !== undefined) {
    if (!Array.isArray(classLabels) || !classLabels.every((label) => typeof label === 'string')) {
      fail(`option "classLabels" must be an array of strings, one per class`);
    }
    if (new Set(classLabels).size !== classLabels.length) {
      fail(`option "classLabels" has a label twice; class labels must be unique`);
    }
  }
  const names = metricNames(prefix);
  const reserved = builtInNames(names, options.task, topK);
  const customMetrics = Object.entries(options.metrics ?? {});
  for (const [name, metric] of customMetrics) {
    if (typeof metric !== 'function') {
      fail(`option "metrics.${name}" is not a function; pass (samples) => number`);
    }
    const recordedAs = names.custom(name);
    assertValidName(recordedAs, 'metric');
    const clash = reserved.find((builtIn) => namesClash(recordedAs, builtIn));
    if (clash !== undefined) {
      fail(
        `option "metrics.${name}" would be recorded as "${recordedAs}", which clashes with "${clash}" that evaluate() records itself; give it another name, such as "custom_${name.replaceAll('/', '_')}"`,
      );
    }
  }
  if (options.output !== undefined && typeof options.output !== 'string') {
    fail(`option "output" must be the name of an output`);
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

/**
 * Evaluates a model over `data` and records the run. `model` is an InferenceSession, or the path
 * or bytes of an .onnx file (then onnxruntime-node is loaded, and the session released at the end).
 *
 *   const result = await evaluate('model.onnx', batches, { task: 'classification', classLabels });
 */
export async function evaluate(
  model: InferenceSession | string | Uint8Array,
  data: Iterable<EvaluationBatch> | AsyncIterable<EvaluationBatch>,
  options: EvaluateOptions,
): Promise<EvaluationResult> {
  const settings = checkOptions(options);
  const isPath = typeof model === 'string';
  if (!isPath && !(model instanceof Uint8Array) && !isSession(model)) {
    fail('got a model that is neither an InferenceSession nor a path or bytes of an .onnx file');
  }
  if (
    data === null ||
    typeof data !== 'object' ||
    !(Symbol.iterator in data || Symbol.asyncIterator in data)
  ) {
    fail('got data that is not iterable; pass an array or (async) iterable of { feeds, targets }');
  }
  // A session the caller made is checked before any run starts: a wrong output is an option
  // error. A model evaluate() loads is loaded inside the run, so a model that fails to load is
  // recorded as a failed run, with the error.
  const given = isSession(model) ? model : undefined;
  if (given !== undefined) checkedOutputName(given, options.output);

  const ownsRun = !isRun(options.run);
  const run = isRun(options.run)
    ? options.run
    : startRun(evaluationRunOptions(options.run ?? {}, isPath ? model : undefined));
  let runtime = options.runtime;
  let session = given;
  try {
    let modelFile = options.modelFile;
    if (session === undefined) {
      const source = model as string | Uint8Array;
      runtime ??= await loadOnnxRuntime(isPath ? 'a model path' : 'model bytes');
      session = await loadSession(runtime, source, options.sessionOptions);
      modelFile = source;
    }
    const outputName = checkedOutputName(session, options.output);
    const evaluated = await recordModel(run, session, settings, {
      outputName,
      modelFile,
      runtime,
      ownsSession: given === undefined,
      options,
    });
    await run.flush({ timeoutMs: SETTLE_TIMEOUT_MS });
    const result = await evaluateBatches(run, session, data, evaluated, outputName);
    if (ownsRun) await run.end();
    return result;
  } catch (error) {
    if (ownsRun) await run.end('failed', { error });
    throw error;
  } finally {
    if (given === undefined) await session?.release();
  }
}

/** The output to score: `output` when the session has it, else its first output. */
function checkedOutputName(session: InferenceSession, output: string | undefined): string {
  const outputName = output ?? session.outputNames[0];
  if (outputName === undefined || !session.outputNames.includes(outputName)) {
    fail(
      `option "output" is ${JSON.stringify(outputName)}, which the model does not have; its outputs are ${session.outputNames.join(', ')}`,
    );
  }
  return outputName;
}

/** Creates the session of a model path or bytes; an error says which model and what to check. */
async function loadSession(
  runtime: OnnxRuntimeModule,
  model: string | Uint8Array,
  sessionOptions: InferenceSession.SessionOptions | undefined,
): Promise<InferenceSession> {
  try {
    return await runtime.InferenceSession.create(model, sessionOptions ?? {});
  } catch (error) {
    const what = typeof model === 'string' ? model : `the model bytes (${model.byteLength} bytes)`;
    throw new Error(
      `livestep: evaluate() could not load ${what} with onnxruntime: ${errorMessage(error)}; check that it is an ONNX model whose operators and opsets this onnxruntime supports`,
      { cause: error },
    );
  }
}

function errorMessage(error: unknown): string {
  return (error as Error | undefined)?.message ?? String(error);
}

/** The session's inputs as a reader can check feeds against them: `features (float32 [batch, 4])`. */
function describeInputs(session: InferenceSession): string {
  const metadata = Array.isArray(session.inputMetadata) ? session.inputMetadata : [];
  return session.inputNames
    .map((name) => {
      const value = metadata.find((entry) => entry?.name === name);
      return value?.isTensor ? `${name} (${value.type} [${value.shape.join(', ')}])` : name;
    })
    .join(', ');
}

/** session.run, with the batch named when onnxruntime refuses its feeds. */
async function runBatch(
  session: InferenceSession,
  feeds: InferenceSession.FeedsType,
  where: string,
): Promise<InferenceSession.ReturnType> {
  try {
    return await session.run(feeds);
  } catch (error) {
    throw new Error(
      `livestep: evaluate() session.run failed on ${where}: ${errorMessage(error)}; check that batch's feeds against the model's inputs: ${describeInputs(session)}`,
      { cause: error },
    );
  }
}

async function recordModel(
  run: Run,
  session: InferenceSession,
  settings: Settings,
  context: {
    outputName: string;
    modelFile: string | Uint8Array | undefined;
    runtime: OnnxRuntimeModule | undefined;
    ownsSession: boolean;
    options: EvaluateOptions;
  },
): Promise<Settings> {
  const { metadata, problems, mismatch } = await collectModelMetadata(session, context.modelFile);
  if (mismatch !== undefined && context.options.modelFile !== undefined) {
    const file =
      typeof context.modelFile === 'string'
        ? context.modelFile
        : `(${(context.modelFile as Uint8Array).byteLength} bytes)`;
    fail(
      `option "modelFile" ${file} is not the session's model: ${mismatch}; pass the file the session was created from, or leave modelFile out`,
    );
  }
  for (const problem of problems) {
    run.annotate(`livestep: evaluate() ${problem}; the model's metadata is incomplete`, {
      level: 'warning',
    });
  }
  // Without classLabels, a classifier's metadata may name its classes.
  let evaluated = settings;
  if (settings.task === 'classification' && settings.classLabels === undefined) {
    const { labels, problem } = classNamesFromMetadata(metadata.metadata);
    if (labels !== undefined)
      evaluated = { ...settings, classLabels: labels, classLabelsFromModel: true };
    if (problem !== undefined) {
      warn(
        `livestep: evaluate() ${problem}; classes are named by index. Pass classLabels to name them`,
        run,
      );
    }
  }
  const versions = await readRuntimeVersions(context.runtime);
  const version = versions.node ?? versions.web ?? versions.common;
  const evaluation: Record<string, unknown> = {
    task: settings.task,
    output: context.outputName,
    warmupRuns: settings.warmupRuns,
    model: metadata,
    onnxruntime: { ...(version !== undefined && { version }), packages: versions },
  };
  // Session options are known when evaluate() created the session, or when the caller says them.
  if (context.ownsSession || context.options.sessionOptions !== undefined) {
    evaluation.session = describeSessionOptions(context.options.sessionOptions);
  }
  if (settings.task === 'classification') {
    evaluation.scores = settings.scores;
    evaluation.topK = settings.topK;
    evaluation.calibrationBins = settings.calibrationBins;
    if (evaluated.classLabels !== undefined) evaluation.classLabels = [...evaluated.classLabels];
    if (evaluated.classLabelsFromModel) evaluation.classLabelsFrom = CLASS_LABELS_FROM_MODEL;
    if (settings.positiveClass !== undefined) evaluation.positiveClass = settings.positiveClass;
  }
  if (settings.customMetrics.length > 0) {
    evaluation.customMetrics = settings.customMetrics.map(([name]) => name);
  }
  run.logParam(settings.prefix, evaluation);
  return evaluated;
}

/** What the loop keeps of a classification: probabilities and true classes, batch by batch. */
interface ClassificationState {
  kind: ScoreKind | undefined;
  classes: number | undefined;
  probabilities: Float64Array[];
  targets: Int32Array[];
}

async function evaluateBatches(
  run: Run,
  session: InferenceSession,
  data: Iterable<EvaluationBatch> | AsyncIterable<EvaluationBatch>,
  settings: Settings,
  outputName: string,
): Promise<EvaluationResult> {
  const { names, task } = settings;
  const latencies: number[] = [];
  const keepSamples = settings.customMetrics.length > 0;
  const predictionRows: number[][] = [];
  const targetRows: Array<number | number[]> = [];
  const classification: ClassificationState = {
    kind: settings.scores === 'auto' ? undefined : settings.scores,
    classes: undefined,
    probabilities: [],
    targets: [],
  };
  let regression: RegressionAccumulator | undefined;
  let regressionWidth: number | undefined;
  let regressionPlots: RegressionPlotData | undefined;
  let samples = 0;
  let batchIndex = 0;
  let nonFiniteWarned = false;
  // Evaluations into one run (one per epoch) continue the per-batch steps, never repeat them.
  let batchSteps = nextBatchSteps.get(run);
  if (batchSteps === undefined) {
    batchSteps = new Map();
    nextBatchSteps.set(run, batchSteps);
  }
  const firstBatchStep = batchSteps.get(names.batchLatency) ?? 0;

  for await (const batch of data) {
    const where = `batch ${batchIndex}`;
    if (typeof batch !== 'object' || batch === null || typeof batch.feeds !== 'object') {
      fail(`${where} has no feeds; each batch is { feeds: { <input name>: Tensor }, targets }`);
    }
    if (task !== 'none' && batch.targets === undefined) {
      fail(`${where} has no targets; a ${task} evaluation needs the true values of every batch`);
    }
    if (batchIndex === 0) {
      for (let warmup = 0; warmup < settings.warmupRuns; warmup++) {
        await runBatch(session, batch.feeds, `${where} (warm-up run ${warmup + 1})`);
      }
    }
    const started = performance.now();
    const outputs = await runBatch(session, batch.feeds, where);
    const latency = performance.now() - started;

    const output = outputRows(outputs[outputName], `output "${outputName}" of ${where}`);
    if (output.rows === 0) {
      const dims = (outputs[outputName] as { dims?: readonly number[] } | undefined)?.dims ?? [];
      fail(
        `${where} has 0 samples (output "${outputName}" has dims [${dims.join(', ')}]); leave empty batches out of the data`,
      );
    }
    if (task === 'classification') classification.kind ??= detectScoreKind(output);
    const nonFinite = findNonFinite(
      output,
      task === 'classification' && classification.kind === 'logits',
    );
    if (nonFinite !== undefined) {
      const position = output.width > 1 ? ` (value ${nonFinite.position} of that sample)` : '';
      const found = `output "${outputName}" of ${where} is ${nonFinite.value} at sample ${nonFinite.sample}${position}`;
      if (task !== 'none') {
        fail(
          `${found}; ${task} metrics of NaN or Infinity mean nothing. Check that batch's inputs (NaN in gives NaN out) and the model's numerics (an overflow gives Infinity)${task === 'classification' ? '; logits may be -Infinity (a probability of 0)' : ''}`,
        );
      }
      if (!nonFiniteWarned) {
        nonFiniteWarned = true;
        warn(
          `livestep: evaluate() ${found}; latency is recorded as usual, but custom metrics get the value as it is`,
          run,
        );
      }
    }
    latencies.push(latency);
    samples += output.rows;
    run.logMetric(names.batchLatency, latency, { step: firstBatchStep + batchIndex });
    run.logMetric(names.batchThroughput, samplesPerSecond(output.rows, latency), {
      step: firstBatchStep + batchIndex,
    });
    batchSteps.set(names.batchLatency, firstBatchStep + batchIndex + 1);

    if (task === 'classification') {
      const scored = scoreBatch(run, classification, output, batch.targets!, settings, where);
      if (keepSamples) {
        for (let row = 0; row < output.rows; row++) {
          const offset = row * scored.classes;
          predictionRows.push(
            Array.from(scored.probabilities.subarray(offset, offset + scored.classes)),
          );
          targetRows.push(scored.targets[row]!);
        }
      }
    } else {
      regressionWidth ??= output.width;
      if (output.width !== regressionWidth) {
        fail(
          `${where}: output "${outputName}" has ${output.width} values per sample, earlier batches ${regressionWidth}`,
        );
      }
      const targets =
        batch.targets === undefined
          ? undefined
          : toNumbers(batch.targets, { samples: output.rows, width: output.width, where });
      if (task === 'regression') {
        regression ??= createRegressionAccumulator(output.width);
        regression.add(output.values, targets!);
        if (settings.plots) {
          regressionPlots ??= createRegressionPlotData(output.width);
          regressionPlots.add(output.values, targets!);
        }
      }
      if (keepSamples) {
        for (let row = 0; row < output.rows; row++) {
          const offset = row * output.width;
          predictionRows.push(Array.from(output.values.subarray(offset, offset + output.width)));
          if (targets !== undefined) {
            targetRows.push(Array.from(targets.subarray(offset, offset + output.width)));
          }
        }
      }
    }
    batchIndex++;
  }
  if (batchIndex === 0) {
    fail('got no batches; pass an iterable of { feeds, targets } with at least one batch');
  }

  const latency = summarizeLatencies(latencies);
  const metrics: Record<string, number> = {
    [names.samples]: samples,
    [names.latencyMean]: latency.mean,
    [names.latencyP50]: latency.p50,
    [names.latencyP90]: latency.p90,
    [names.latencyP99]: latency.p99,
    [names.throughput]: samplesPerSecond(samples, latency.total),
  };
  const perClass: Array<{ name: string; value: number; classLabel: string }> = [];
  const result: EvaluationResult = { run, metrics, samples, batches: batchIndex, latency };

  if (task === 'classification') {
    result.classification = summarizeClassification(
      run,
      classification,
      settings,
      metrics,
      perClass,
    );
  }
  if (regression !== undefined) {
    const summary = regression.summary();
    result.regression = summary;
    metrics[names.meanAbsoluteError] = summary.meanAbsoluteError;
    metrics[names.meanSquaredError] = summary.meanSquaredError;
    metrics[names.rootMeanSquaredError] = summary.rootMeanSquaredError;
    metrics[names.r2] = summary.r2;
    for (const plot of regressionPlots?.plots() ?? []) {
      const output = summary.outputs === 1 ? undefined : plot.output;
      run.logPlot(names.regressionPlot('predicted_vs_actual', output), plot.predictedVsActual);
      run.logPlot(names.regressionPlot('residuals', output), plot.residuals);
    }
  }
  for (const [name, metric] of settings.customMetrics) {
    let value: unknown;
    try {
      value = await metric({
        predictions: predictionRows,
        targets: targetRows as number[] | number[][],
      });
    } catch (error) {
      throw new Error(
        `livestep: evaluate() custom metric "${name}" threw: ${(error as Error)?.message ?? error}`,
        { cause: error },
      );
    }
    if (typeof value !== 'number') {
      fail(
        `custom metric "${name}" returned ${describeValue(value)}; return a number (or a promise of one)`,
      );
    }
    metrics[names.custom(name)] = value;
  }

  if (task === 'classification' && settings.scores === 'auto') {
    // Record what 'auto' decided, so runs of models with different outputs are told apart.
    run.logParam(`${settings.prefix}/scores`, classification.kind!);
  }
  run.logMetrics(metrics);
  for (const { name, value, classLabel } of perClass) {
    run.logMetric(name, value, { labels: { class: classLabel } });
    metrics[labelledName(name, classLabel)] = value;
  }
  return result;
}

/** Turns one batch's output into probabilities, checks its targets and keeps both. */
function scoreBatch(
  run: Run,
  state: ClassificationState,
  output: OutputRows,
  targets: BatchTargets,
  settings: Settings,
  where: string,
): { classes: number; probabilities: Float64Array; targets: Int32Array } {
  state.kind ??= detectScoreKind(output);
  const { classes, probabilities } = classProbabilities(output, state.kind, `output of ${where}`);
  if (state.classes === undefined) {
    state.classes = classes;
    if (
      settings.classLabelsFromModel &&
      settings.classLabels !== undefined &&
      settings.classLabels.length !== classes
    ) {
      warn(
        `livestep: evaluate() the model's metadata "class_names" names ${settings.classLabels.length} classes, but the model scores ${classes}; classes are named by index. Pass classLabels to name them`,
        run,
      );
      // This evaluation's own copy of the settings (see recordModel): the labels are not used.
      settings.classLabels = undefined;
    }
    if (settings.classLabels !== undefined && settings.classLabels.length !== classes) {
      fail(
        `option "classLabels" has ${settings.classLabels.length} labels, but the model scores ${classes} classes; pass one label per class`,
      );
    }
  } else if (classes !== state.classes) {
    fail(`${where}: the output scores ${classes} classes, earlier batches ${state.classes}`);
  }
  const indices = toClassIndices(targets, {
    samples: output.rows,
    classes,
    ...(settings.classLabels !== undefined && { classLabels: settings.classLabels }),
    where,
  });
  state.probabilities.push(probabilities);
  state.targets.push(indices);
  return { classes, probabilities, targets: indices };
}

function concatenate<T extends Float64Array | Int32Array>(
  parts: T[],
  create: (length: number) => T,
): T {
  const joined = create(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/** Classification metrics and plots of the whole evaluation. */
function summarizeClassification(
  run: Run,
  state: ClassificationState,
  settings: Settings,
  metrics: Record<string, number>,
  perClass: Array<{ name: string; value: number; classLabel: string }>,
): ClassificationSummary {
  const { names } = settings;
  const classes = state.classes!;
  const labels =
    settings.classLabels ?? Array.from({ length: classes }, (_, index) => String(index));
  const probabilities = concatenate(state.probabilities, (length) => new Float64Array(length));
  const targets = concatenate(state.targets, (length) => new Int32Array(length));
  const topK = settings.topK.filter((k) => k < classes);
  const dropped = settings.topK.filter((k) => k >= classes);
  if (settings.topKAsked && dropped.length > 0) {
    warn(
      `livestep: evaluate() option "topK" asks for top-${dropped.join(', top-')} accuracy, but the model scores ${classes} classes, where top-k of k >= ${classes} is always 1, so it is not recorded; pass k below ${classes}`,
      run,
    );
  }
  const summary = classificationMetrics(probabilities, targets, classes, { topK });

  metrics[names.accuracy] = summary.accuracy;
  for (const k of topK) metrics[names.topKAccuracy(k)] = summary.topKAccuracy[k]!;
  metrics[names.logLoss] = summary.logLoss;
  for (const metric of ['precision', 'recall', 'f1'] as const) {
    for (const average of ['macro', 'micro', 'weighted'] as const) {
      metrics[names.averaged(metric, average)] = summary[average][metric];
    }
    summary.perClass.forEach((scores, index) => {
      perClass.push({
        name: names.classMetric(metric),
        value: scores[metric],
        classLabel: labels[index]!,
      });
    });
  }

  const curves = classifierCurves(probabilities, targets, classes, {
    positiveClass: positiveClassIndex(settings, labels),
    calibrationBins: settings.calibrationBins,
  });
  recordRankingMetrics(run, curves, labels, settings, metrics, perClass);
  if (settings.plots) {
    run.logPlot(names.confusionMatrix, confusionMatrix(targets, summary.predictions, { labels }));
    for (const curve of curves) {
      const label = classes === 2 ? undefined : labels[curve.positiveClass]!;
      run.logPlot(names.curve('roc', label), curve.roc);
      run.logPlot(names.curve('precision_recall', label), curve.precisionRecall);
      run.logPlot(names.curve('calibration', label), curve.calibration);
    }
  }
  return summary;
}

/**
 * ROC-AUC and average precision: of the positive class for a binary classifier, else per class
 * (one-vs-rest, labelled `class`) and their unweighted mean (`/macro`) over the classes where
 * they are defined. A class with no sample in the targets (or, for ROC-AUC, only samples of it)
 * has none: it is left out of the mean, with a warning, where scikit-learn would raise.
 */
function recordRankingMetrics(
  run: Run,
  curves: ClassCurves[],
  labels: readonly string[],
  settings: Settings,
  metrics: Record<string, number>,
  perClass: Array<{ name: string; value: number; classLabel: string }>,
): void {
  const { names } = settings;
  const undefinedFor: string[] = [];
  for (const metric of ['roc_auc', 'average_precision'] as const) {
    const read = (curve: ClassCurves) =>
      metric === 'roc_auc' ? curve.rocAuc : curve.averagePrecision;
    if (curves.length === 1) {
      const value = read(curves[0]!);
      if (value === undefined)
        undefinedFor.push(`${metric} of class ${labels[curves[0]!.positiveClass]}`);
      else metrics[names.rankingMetric(metric)] = value;
      continue;
    }
    let sum = 0;
    let defined = 0;
    for (const curve of curves) {
      const value = read(curve);
      const classLabel = labels[curve.positiveClass]!;
      if (value === undefined) {
        undefinedFor.push(`${metric} of class ${classLabel}`);
        continue;
      }
      perClass.push({ name: names.rankingMetric(metric), value, classLabel });
      sum += value;
      defined++;
    }
    if (defined > 0) metrics[names.rankingAverage(metric)] = sum / defined;
  }
  if (undefinedFor.length > 0) {
    warn(
      `livestep: evaluate() records no ${undefinedFor.join(', ')}: the targets hold no sample of that class (or, for roc_auc, only samples of it), so it is not defined; it is left out of the macro average`,
      run,
    );
  }
}

function positiveClassIndex(settings: Settings, labels: readonly string[]): number {
  const positive = settings.positiveClass;
  if (positive === undefined) return 1;
  const index = typeof positive === 'string' ? labels.indexOf(positive) : positive;
  if (!Number.isInteger(index) || index < 0 || index >= labels.length) {
    fail(
      `option "positiveClass" is ${JSON.stringify(positive)}; pass a class index below ${labels.length} or one of the class labels (${labels.join(', ')})`,
    );
  }
  return index;
}
