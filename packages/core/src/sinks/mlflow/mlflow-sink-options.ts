import type { RetryPolicy } from '../../delivery/retry-policy.js';
import type { MlflowConnectionOptions } from './mlflow-config.js';
import type { MlflowLimits } from './mlflow-entities.js';

/** A request that has not answered in this long is abandoned and retried. */
export const DEFAULT_MLFLOW_REQUEST_TIMEOUT_MS = 10_000;
/**
 * Entities (metric points, params, tags) held in memory while MLflow is slow or down, about 150
 * bytes each: 200,000 is 30 MB, a long outage of a fast loop. Past it new points are counted as
 * `queue_overflow` (the run folder still has them).
 */
export const DEFAULT_MLFLOW_MAX_QUEUED = 200_000;
/**
 * A log-batch request that is not full waits until this long after the previous one, so points
 * logged slowly are gathered (MLflow's own clients send a batch per 1000 metrics); a full request,
 * a flush and the end of the run are sent at once.
 */
export const DEFAULT_MLFLOW_POST_INTERVAL_MS = 1_000;
/** At close, this much of the deadline (at most half of it) is kept for `runs/update`. */
export const MLFLOW_UPDATE_RESERVE_MS = 2_000;
/** "MLflow is failing, retrying" is said at most this often. */
export const MLFLOW_RETRY_WARNING_INTERVAL_MS = 10 * 60_000;

export interface MlflowSinkOptions extends MlflowConnectionOptions {
  requestTimeoutMs?: number;
  retryPolicy?: Partial<RetryPolicy>;
  /** How long a request that is not full may wait for more (see DEFAULT_MLFLOW_POST_INTERVAL_MS). */
  postIntervalMs?: number;
  /** Entities held in memory at most (see DEFAULT_MLFLOW_MAX_QUEUED). */
  maxQueued?: number;
  /** `mlflow.source.name` (default: the script Node runs, process.argv[1]). */
  sourceName?: string;
  /** Where warnings go (default: process.emitWarning, type LivestepWarning). */
  onWarning?: (message: string) => void;
  /** A fetch to send with instead of node:http (tests, custom transports). */
  fetch?: typeof fetch;
  /** Lower limits than MLflow's own (tests, a proxy with a smaller body limit). */
  limits?: Partial<MlflowLimits>;
}
