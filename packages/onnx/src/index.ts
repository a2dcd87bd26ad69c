/**
 * @livestep/onnx: onnxruntime evaluation loops and sessions that record themselves with livestep.
 *
 *   import { evaluate } from '@livestep/onnx';
 *   const result = await evaluate('model.onnx', batches, {
 *     task: 'classification',
 *     classLabels: ['setosa', 'versicolor', 'virginica'],
 *     run: { experiment: 'iris', name: 'mlp' },
 *   });
 */
export {
  type ClassificationSummary,
  type ClassScores,
  LOG_LOSS_EPSILON,
  type PerClassScores,
} from './classification-metrics.js';
export { DEFAULT_CALIBRATION_BINS } from './classifier-curves.js';
export { evaluate } from './evaluate.js';
export {
  type CustomMetric,
  DEFAULT_TOP_K,
  DEFAULT_WARMUP_RUNS,
  EVALUATION_TASKS,
  type EvaluateOptions,
  type EvaluationBatch,
  type EvaluationResult,
  type EvaluationSamples,
  type EvaluationTask,
} from './evaluate-options.js';
export { DEFAULT_INSTRUMENT_PREFIX, type InstrumentOptions, instrument } from './instrument.js';
export { type LatencySummary, summarizeLatencies } from './latency-stats.js';
export { DEFAULT_METRIC_PREFIX } from './metric-names.js';
export { collectModelMetadata, type ModelMetadataResult } from './model-metadata.js';
export type { OnnxRuntimeModule } from './onnx-runtime.js';
export type { ScoreKind } from './output-scores.js';
export type { RegressionSummary } from './regression-metrics.js';
export type { BatchTargets, TargetValue } from './targets.js';
