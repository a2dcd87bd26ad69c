/**
 * evaluate(): runs a model over a dataset and records, in a livestep run, the latency and
 * throughput of every batch, the summary metrics of the task, the classifier's plots and the
 * model's metadata. See metric-names.ts for what is recorded under which name.
 */
import { type Run, startRun } from '@livestep/core';
import type { InferenceSession } from 'onnxruntime-common';
import { evaluateBatches } from './evaluate-batches.js';
import {
  checkOptions,
  type EvaluateOptions,
  type EvaluationBatch,
  type EvaluationResult,
  type EvaluationSettings,
} from './evaluate-options.js';
import { errorMessage, throwEvaluateError, warnAndAnnotate } from './evaluate-problems.js';
import { classNamesFromMetadata, collectModelMetadata } from './model-metadata.js';
import { loadOnnxRuntime, type OnnxRuntimeModule, readRuntimeVersions } from './onnx-runtime.js';
import { evaluationRunOptions } from './run-folder.js';
import { describeSessionOptions } from './session-options.js';

/** The `classLabelsFrom` param when the labels are the model's metadata. */
const CLASS_LABELS_FROM_MODEL = 'model metadata class_names';

/**
 * How long evaluate() lets the run's start-up work settle before timing the first batch: a new
 * run collects git info in child processes and writes its first files, which would otherwise
 * land in the latency of the first batches. Bounded, so a slow sink never holds the evaluation.
 */
const SETTLE_TIMEOUT_MS = 2_000;

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
    throwEvaluateError(
      'got a model that is neither an InferenceSession nor a path or bytes of an .onnx file',
    );
  }
  if (
    data === null ||
    typeof data !== 'object' ||
    !(Symbol.iterator in data || Symbol.asyncIterator in data)
  ) {
    throwEvaluateError(
      'got data that is not iterable; pass an array or (async) iterable of { feeds, targets }',
    );
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
    throwEvaluateError(
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

/**
 * Records what was evaluated as the `<prefix>` params: the task, the output, the model's metadata,
 * the onnxruntime version, the session options when known, the classification settings. Returns
 * the settings, with the class labels of the model's metadata when no `classLabels` were given.
 */
async function recordModel(
  run: Run,
  session: InferenceSession,
  settings: EvaluationSettings,
  context: {
    outputName: string;
    modelFile: string | Uint8Array | undefined;
    runtime: OnnxRuntimeModule | undefined;
    ownsSession: boolean;
    options: EvaluateOptions;
  },
): Promise<EvaluationSettings> {
  const { metadata, problems, mismatch } = await collectModelMetadata(session, context.modelFile);
  if (mismatch !== undefined && context.options.modelFile !== undefined) {
    const file =
      typeof context.modelFile === 'string'
        ? context.modelFile
        : `(${(context.modelFile as Uint8Array).byteLength} bytes)`;
    throwEvaluateError(
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
      warnAndAnnotate(
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
