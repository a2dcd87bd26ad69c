/**
 * @livestep/core: the livestep protocol, the Run API, delivery and the built-in sinks.
 *
 *   import { startRun } from '@livestep/core';
 *   const run = startRun({ experiment: 'iris', params: { learningRate: 0.1 } });
 *   run.logMetric('train/loss', 0.42);
 *   run.nextStep();
 *   await run.end();
 */

export { createDefaultSinks, stateDirectoryFor } from './config/default-sinks.js';
export {
  DEFAULT_DIRECTORY,
  type EnvironmentConfig,
  isTruthy,
  readEnvironmentConfig,
} from './config/environment-config.js';
export { abortableSleep } from './delivery/abortable-sleep.js';
export {
  type AttemptContext,
  type DeliverOptions,
  type DeliveryResult,
  deliverWithRetry,
  type RetryDecision,
  type RetryEvent,
} from './delivery/deliver-with-retry.js';
export { emitLivestepWarning, LIVESTEP_WARNING_TYPE } from './delivery/livestep-warning.js';
export {
  MAX_ANSWER_BYTES,
  type PostOptions,
  type PostResult,
  postTo,
} from './delivery/post-request.js';
export { createRedactor, REDACTED } from './delivery/redact.js';
export {
  MAX_QUOTED_MESSAGE_LENGTH,
  outcomeOfError,
  outcomeWithoutAnswer,
  type PermanentOutcome,
  quoteServerMessage,
  type RequestOutcome,
  type RetryOutcome,
} from './delivery/request-outcome.js';
export {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  judgeStatus,
  parseRetryAfter,
  type ResponseVerdict,
  type RetryPolicy,
} from './delivery/retry-policy.js';
export { Spool, type SpoolChunk } from './delivery/spool.js';
export { createIdleWaiter, IDLE_POLL_MS, type IdleWaiter } from './delivery/wait-until.js';
export { createThrottledWarning, createWarnOnce, type Warn } from './delivery/warn-once.js';
export {
  confusionSamples,
  type DvclivePlotFile,
  type DvcPlotProperties,
  dvclivePlotFile,
  IMAGES_FOLDER,
  METRICS_SUMMARY_FILE,
  metricColumnName,
  metricSeriesName,
  metricSeriesPath,
  nestMetrics,
  PARAMS_FILE,
} from './dvclive/layout.js';
export {
  isDvcliveFolder,
  type ReadOptions as ReadRunFolderOptions,
  type RecordedRun,
  readDvcliveFolder,
} from './dvclive/read-run-folder.js';
export {
  RUN_IDENTITY_FILE,
  type RunIdentityRecord,
  readRunIdentity,
} from './dvclive/run-identity.js';
export { collectGitInfo, redactRepositoryUrl } from './host/git-info.js';
export { collectMachineInfo } from './host/machine-info.js';
export {
  DEFAULT_SYSTEM_MONITOR_INTERVAL_MS,
  SYSTEM_METRICS,
  type SystemMetricsTarget,
  type SystemMonitor,
  type SystemMonitorOptions,
  startSystemMonitor,
} from './host/system-monitor.js';
export { DeliveryError } from './pipeline/delivery-error.js';
export {
  DEFAULT_FLUSH_INTERVAL_MS,
  DEFAULT_MAX_BATCH_EVENTS,
  DEFAULT_MAX_QUEUED_EVENTS,
} from './pipeline/dispatcher.js';
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
export * from './protocol/events.js';
export {
  type ParseJsonlOptions,
  parseJsonl,
  serializeEventLine,
  serializeRunHeader,
} from './protocol/jsonl-record.js';
export {
  type ColumnIssue,
  checkMetricColumns,
  encodeMetricColumns,
  expandMetricColumns,
  METRIC_COLUMNS_CAPABILITY,
  metricColumnsLength,
  prefixedEventId,
} from './protocol/metric-columns.js';
export { decodeMetricValue, encodeMetricValue, encodeNumber } from './protocol/metric-value.js';
export { assertValidName, explainBadName, type NamedThing } from './protocol/names.js';
export {
  assertValidBatch,
  type BatchValidation,
  type ValidateBatchOptions,
  type ValidationIssue,
  validateBatch,
  type WireBatchValidation,
} from './protocol/validate-batch.js';
export { deterministicUuid } from './run/event-id.js';
export { mergeParams } from './run/params.js';
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
export { createDirectorySink, type DirectorySinkOptions } from './sinks/directory-sink.js';
export { LOCK_FILE_NAME } from './sinks/folder-lock.js';
export {
  createHttpSink,
  DEFAULT_MAX_MEMORY_EVENTS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SPILL_AFTER_MS,
  describeNetworkError,
  GZIP_THRESHOLD_BYTES,
  type HttpSinkOptions,
  INGEST_PATH,
  resolveIngestUrl,
} from './sinks/http-sink.js';
export { createJsonlSink, type JsonlSinkOptions } from './sinks/jsonl-sink.js';
export { createMemorySink, type MemorySink } from './sinks/memory-sink.js';
export { createNoopSink } from './sinks/noop-sink.js';
