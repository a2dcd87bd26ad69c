import type { RetryPolicy } from '../../delivery/retry-policy.js';
import type { ClearmlConnectionOptions } from './clearml-config.js';

/** A request that has not answered in this long is abandoned and retried. */
export const DEFAULT_CLEARML_REQUEST_TIMEOUT_MS = 30_000;
/**
 * An `events.add_batch` that is not full waits until this long after the previous one, so points
 * are gathered: the SDK's own flush period (A.6), so livestep never sends more requests than the
 * SDK for the same points (the web app refreshes every few seconds anyway). A full request, a
 * flush and the end of the run go at once.
 */
export const DEFAULT_CLEARML_POST_INTERVAL_MS = 5_000;
/** One request's body at most: the SDK's `api.http.max_req_size` (A.5). */
export const CLEARML_MAX_REQUEST_BYTES = 15 * 1024 * 1024;
/** Items (points, params, images) held while ClearML is slow or down; past it new ones are counted as `queue_overflow`. */
export const DEFAULT_CLEARML_MAX_QUEUED = 200_000;
/** At close, this much of the deadline (at most half of it) is kept for the task's status. */
export const CLEARML_STATUS_RESERVE_MS = 2_000;
/** "ClearML is failing, retrying" is said at most this often. */
export const CLEARML_RETRY_WARNING_INTERVAL_MS = 10 * 60_000;

export interface ClearmlSinkOptions extends ClearmlConnectionOptions {
  /**
   * What a NaN or ±inf point becomes: `'skip'` (default) leaves it out of ClearML, warned once per
   * metric and counted as rejected (the run folder keeps it); a number is sent in its place.
   */
  nonFiniteValue?: 'skip' | number;
  requestTimeoutMs?: number;
  retryPolicy?: Partial<RetryPolicy>;
  /** How long a request that is not full may wait for more (see DEFAULT_CLEARML_POST_INTERVAL_MS). */
  postIntervalMs?: number;
  /** Body bytes per request at most (default 15 MiB, ClearML's SDK's limit). */
  maxRequestBytes?: number;
  /** Items held in memory at most (see DEFAULT_CLEARML_MAX_QUEUED). */
  maxQueued?: number;
  /** Where warnings go (default: process.emitWarning, type LivestepWarning). */
  onWarning?: (message: string) => void;
  /** Where the task's web address is said once it exists (default: a line on stderr). */
  onTaskLink?: (url: string) => void;
  /** A fetch to send with instead of node:http (tests, custom transports). */
  fetch?: typeof fetch;
}
