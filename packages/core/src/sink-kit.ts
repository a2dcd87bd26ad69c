/**
 * @livestep/core/sink-kit: what a sink or an adapter is built from, beyond the Run API. The
 * delivery kit (one request, one outcome type, one retry loop, the spool), DVCLive's layout and
 * run folders, the environment's configuration, and host facts. Users of livestep never need it;
 * the sinks and adapters in this repository are built on it, and so can yours.
 *
 *   import { deliverWithRetry, postTo } from '@livestep/core/sink-kit';
 */
export {
  createDefaultSinks,
  type DefaultSinkContext,
  OPTIONAL_SINK_MODULES,
  stateDirectoryFor,
} from './config/default-sinks.js';
export {
  DEFAULT_DIRECTORY,
  type EnvironmentConfig,
  isTruthy,
  readEnvironmentConfig,
} from './config/environment-config.js';
export { abortableSleep } from './delivery/abortable-sleep.js';
export {
  type Attempt,
  BackgroundPoster,
  type BackgroundPosterOptions,
  type Posted,
  type PosterWork,
  posterSink,
} from './delivery/background-poster.js';
export {
  type AttemptContext,
  type DeliverOptions,
  type DeliveryResult,
  deliverWithRetry,
  type RetryDecision,
  type RetryEvent,
} from './delivery/deliver-with-retry.js';
export {
  describeUrlSafely,
  INGEST_PATH,
  isLoopbackHostname,
  resolveIngestUrl,
} from './delivery/endpoint-url.js';
export { emitLivestepWarning, LIVESTEP_WARNING_TYPE } from './delivery/livestep-warning.js';
export {
  MAX_ANSWER_BYTES,
  type PostOptions,
  type PostResult,
  postTo,
} from './delivery/post-request.js';
export { createRedactor, REDACTED } from './delivery/redact.js';
export { type Refusal, RefusalRecord } from './delivery/refusal-record.js';
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
  type DvcYamlEntry,
  type DvcYamlMergeOptions,
  type DvcYamlRunEntries,
  mergeDvcYaml,
} from './dvclive/dvc-yaml.js';
export {
  CUSTOM_PLOTS_FOLDER,
  confusionSamples,
  type DvclivePlotFile,
  type DvcPlotProperties,
  dvclivePlotFile,
  IMAGE_EXTENSIONS,
  IMAGES_FOLDER,
  imageMimeOfFile,
  METRICS_FOLDER,
  METRICS_SUMMARY_FILE,
  metricColumnName,
  metricSeriesHeader,
  metricSeriesName,
  metricSeriesPath,
  metricSeriesRow,
  nestMetrics,
  PARAMS_FILE,
  parseMetricCell,
  plotKindOfSklearnKey,
  SKLEARN_FOLDER,
  type SklearnKind,
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
export { readSavedRun, type SavedRun } from './dvclive/saved-run.js';
export { collectGitInfo, redactRepositoryUrl } from './host/git-info.js';
export { hashFile } from './host/hash-file.js';
export { collectMachineInfo } from './host/machine-info.js';
export { DEFAULT_MAX_QUEUED_EVENTS } from './pipeline/dispatcher.js';
export { deterministicUuid } from './run/event-id.js';
export { mergeParams } from './run/params.js';
export { LOCK_FILE_NAME } from './sinks/folder-lock.js';
export {
  DEFAULT_MAX_MEMORY_EVENTS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SPILL_AFTER_MS,
  describeNetworkError,
  GZIP_THRESHOLD_BYTES,
} from './sinks/http-sink.js';
