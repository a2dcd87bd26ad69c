/**
 * @livestep/core: record a run (metrics, params, plots, images, artifacts) live into the sinks
 * you choose. Everything here is documented in the README; protocol definitions are also at
 * `@livestep/core/protocol`, and what sinks and adapters are built from at
 * `@livestep/core/sink-kit`.
 *
 *   import { startRun } from '@livestep/core';
 *   const run = startRun({ experiment: 'iris', params: { learningRate: 0.1 } });
 *   run.logMetric('train/loss', 0.42);
 *   run.nextStep();
 *   await run.end();
 */

export {
  DEFAULT_SYSTEM_MONITOR_INTERVAL_MS,
  SYSTEM_METRICS,
  type SystemMetricsTarget,
  type SystemMonitor,
  type SystemMonitorOptions,
  startSystemMonitor,
} from './host/system-monitor.js';
export { DeliveryError } from './pipeline/delivery-error.js';
export { DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_MAX_BATCH_EVENTS } from './pipeline/dispatcher.js';
export type {
  DropReason,
  FlushReport,
  Sink,
  SinkDeadline,
  SinkDeliveryState,
  SinkReport,
} from './pipeline/sink.js';
export { type ConfusionMatrixOptions, confusionMatrix } from './plots/confusion-matrix.js';
export {
  calibrationCurve,
  DEFAULT_CALIBRATION_BINS,
  precisionRecallCurve,
  rocCurve,
} from './plots/curves.js';
export { YIELD_INTERVAL_MS, yieldToEventLoop } from './process/yield-to-event-loop.js';
export type * from './protocol/events.js';
export { type PlotCell, type PlotInput, type PlotRow, REQUIRED_COLUMNS } from './run/plot-input.js';
export { Run } from './run/run.js';
export {
  type AnnotationOptions,
  type ArtifactOptions,
  DEFAULT_END_TIMEOUT_MS,
  DEFAULT_EXIT_TIMEOUT_MS,
  DEFAULT_FLUSH_TIMEOUT_MS,
  type EndOptions,
  type ImageOptions,
  type MetricOptions,
  type MetricSeriesOptions,
  type RunState,
  type StartRunOptions,
} from './run/run-options.js';
export { startRun, withRun } from './run/start-run.js';
export {
  type ClearmlSinkOptions,
  clearmlSeries,
  createClearmlSink,
} from './sinks/clearml/clearml-sink.js';
export {
  createDioptraSink,
  type DioptraSinkOptions,
  decodeDioptraName,
  encodeDioptraName,
} from './sinks/dioptra/dioptra-sink.js';
export { createDirectorySink, type DirectorySinkOptions } from './sinks/directory-sink.js';
export { createHttpSink, type HttpSinkOptions } from './sinks/http-sink.js';
export { createJsonlSink, type JsonlSinkOptions } from './sinks/jsonl-sink.js';
export { createMemorySink, type MemorySink } from './sinks/memory-sink.js';
export { createMlflowSink, type MlflowSinkOptions } from './sinks/mlflow/mlflow-sink.js';
export { createNoopSink } from './sinks/noop-sink.js';
export {
  createTensorBoardSink,
  type TensorBoardSinkOptions,
} from './sinks/tensorboard/tensorboard-sink.js';
