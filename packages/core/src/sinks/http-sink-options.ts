/**
 * The HTTP sink's options, its defaults and its bounds (memory, request size, requests in flight,
 * the close budget), each with its reason. The sink itself is in http-sink.ts.
 */
import type { RetryPolicy } from '../delivery/retry-policy.js';

/**
 * Bodies larger than this are gzipped (Sentry's threshold): smaller ones are not worth the CPU.
 * Not to a loopback address (see HttpSinkOptions.compress).
 */
export const GZIP_THRESHOLD_BYTES = 32 * 1024;
/** A request that has not answered in this long is abandoned and retried. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** After failing this long, stop holding batches in memory and spill them to the spool. */
export const DEFAULT_SPILL_AFTER_MS = 10_000;
/** Events held in memory for this sink before spilling to the spool (about 200 bytes each). */
export const DEFAULT_MAX_MEMORY_EVENTS = 50_000;
/** Most events in one request, when a backlog lets batches be merged or the spool is replayed. */
export const MAX_REQUEST_EVENTS = 5_000;
/**
 * The same to a server that takes metric columns: points in columns take about a fifth of the
 * bytes, so four times the points make a body no larger, and fewer requests and commits. A
 * server's own `maxBatchEvents` (told in its acknowledgement) wins when it is lower.
 */
export const MAX_COLUMNS_REQUEST_EVENTS = 20_000;
/**
 * Requests posted at once from memory while the server answers: two keep the client building a
 * body while the server stores the one before (each side was idle half the time with one).
 */
export const MAX_REQUESTS_IN_FLIGHT = 2;
/**
 * At close, the last this-much of the deadline (at most; a quarter of what is left when less) is
 * kept for writing the unsent events to the spool, so ending on time never loses them.
 */
export const CLOSE_SPOOL_RESERVE_MS = 500;
/**
 * At close, a sink whose server was failing already gets at most this long (its last attempt, or
 * the one in flight) before it spools the rest: a server that answers at all answers within it,
 * and one that hangs must not hold the end of the script for the whole deadline.
 */
export const FAILING_CLOSE_BUDGET_MS = 1_000;

export interface HttpSinkOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:4318`; batches go to `<url>/api/v1/batches`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`; never logged. */
  token?: string;
  /** Allow plain http to a host that is not loopback (the token would cross the network in clear). */
  allowInsecureHttp?: boolean;
  /**
   * Gzip bodies past GZIP_THRESHOLD_BYTES. Default: yes, except to a loopback address, where
   * compression saves no time and costs both processes CPU, on the cores the training uses (a
   * 20,000-point body: 256 ns a point to gzip here, 110 for the server to inflate).
   */
  compress?: boolean;
  /** Folder for spool files (`<run id>.jsonl`). Default: `.livestep/spool` in the working directory. */
  spoolDirectory?: string;
  requestTimeoutMs?: number;
  spillAfterMs?: number;
  maxMemoryEvents?: number;
  retryPolicy?: Partial<RetryPolicy>;
  /** Where warnings go (default: process.emitWarning). */
  onWarning?: (message: string) => void;
  /**
   * A fetch to post with instead of the built-in node:http transport (tests, custom transports).
   * It is called with `redirect: 'manual'`. Unlike the built-in transport, a fetch in flight keeps
   * the process alive, so a script that never calls `end()` waits for it before its exit hooks run.
   */
  fetch?: typeof fetch;
}
