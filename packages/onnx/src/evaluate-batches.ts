/**
 * The loop of evaluate(): runs the session on every batch (after the warm-up runs), times each
 * call, logs the per-batch latency and throughput, keeps what the task's metrics need, then
 * records the summary metrics, the plots and the custom metrics.
 */
import type { Run } from '@livestep/core';
import type { InferenceSession } from 'onnxruntime-common';
import {
  type ClassificationState,
  type PerClassMetric,
  scoreBatch,
  summarizeClassification,
} from './classification-summary.js';
import type { EvaluationBatch, EvaluationResult, EvaluationSettings } from './evaluate-options.js';
import { errorMessage, throwEvaluateError, warnAndAnnotate } from './evaluate-problems.js';
import { samplesPerSecond, summarizeLatencies } from './latency-stats.js';
import { labelledName } from './metric-names.js';
import { detectScoreKind, findNonFinite, outputRows } from './output-scores.js';
import { createRegressionAccumulator, type RegressionAccumulator } from './regression-metrics.js';
import { createRegressionPlotData, type RegressionPlotData } from './regression-plots.js';
import { toNumbers } from './targets.js';

/**
 * Per run, the step the next evaluation's first batch is logged at, by series (the prefix's
 * `batch/latency (ms)`): the per-batch series of a second evaluation into the same run continue
 * where the first stopped, so their steps never repeat.
 */
const nextBatchSteps = new WeakMap<Run, Map<string, number>>();

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
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

/** Evaluates every batch of `data` into `run`, and records the summary. */
export async function evaluateBatches(
  run: Run,
  session: InferenceSession,
  data: Iterable<EvaluationBatch> | AsyncIterable<EvaluationBatch>,
  settings: EvaluationSettings,
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
      throwEvaluateError(
        `${where} has no feeds; each batch is { feeds: { <input name>: Tensor }, targets }`,
      );
    }
    if (task !== 'none' && batch.targets === undefined) {
      throwEvaluateError(
        `${where} has no targets; a ${task} evaluation needs the true values of every batch`,
      );
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
      throwEvaluateError(
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
        throwEvaluateError(
          `${found}; ${task} metrics of NaN or Infinity mean nothing. Check that batch's inputs (NaN in gives NaN out) and the model's numerics (an overflow gives Infinity)${task === 'classification' ? '; logits may be -Infinity (a probability of 0)' : ''}`,
        );
      }
      if (!nonFiniteWarned) {
        nonFiniteWarned = true;
        warnAndAnnotate(
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
        throwEvaluateError(
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
    throwEvaluateError(
      'got no batches; pass an iterable of { feeds, targets } with at least one batch',
    );
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
  const perClass: PerClassMetric[] = [];
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
      throwEvaluateError(
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
