import type { RetryPolicy } from '../../delivery/retry-policy.js';
import type { DioptraConnectionOptions } from './dioptra-config.js';

/** A request that has not answered in this long is abandoned and retried. */
export const DEFAULT_DIOPTRA_REQUEST_TIMEOUT_MS = 10_000;
/**
 * Dioptra's metric endpoint takes one point a request (backends.md B.3), each an SQL upsert on
 * the server: the sink sends one at a time and at most this many a second, so a loop logging
 * thousands of points a second does not flood a shared Dioptra; the rest waits in memory, in
 * order. A judgement for a small Flask deployment, not a limit Dioptra states.
 */
export const DEFAULT_DIOPTRA_MAX_REQUESTS_PER_SECOND = 100;
/**
 * Points held in memory while Dioptra is slow or down, about 200 bytes each: 200,000 is 40 MB.
 * Past it new points are counted as `queue_overflow` (the run folder still has them).
 */
export const DEFAULT_DIOPTRA_MAX_QUEUED = 200_000;
/**
 * At close, delivery stops this long (at most half the time left) before the deadline, so what
 * is left is counted and said before the run's end stops waiting for the sink.
 */
export const DIOPTRA_CLOSE_RESERVE_MS = 250;
/** "Dioptra is failing, retrying" is said at most this often. */
export const DIOPTRA_RETRY_WARNING_INTERVAL_MS = 10 * 60_000;

export interface DioptraSinkOptions extends DioptraConnectionOptions {
  requestTimeoutMs?: number;
  retryPolicy?: Partial<RetryPolicy>;
  /** Requests a second at most (see DEFAULT_DIOPTRA_MAX_REQUESTS_PER_SECOND); Infinity for no bound. */
  maxRequestsPerSecond?: number;
  /** Points held in memory at most (see DEFAULT_DIOPTRA_MAX_QUEUED). */
  maxQueued?: number;
  /** Where warnings go (default: process.emitWarning, type LivestepWarning). */
  onWarning?: (message: string) => void;
  /** A fetch to send with instead of node:http (tests, custom transports). */
  fetch?: typeof fetch;
}
