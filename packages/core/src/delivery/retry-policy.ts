/**
 * When to retry a request and how long to wait, after OpenTelemetry's OTLP exporter and
 * Sentry's transports: exponential backoff with jitter, Retry-After honoured, and only the
 * failures that can heal (rate limits, overloaded or restarting servers, network errors) retried.
 */

export interface RetryPolicy {
  /** First wait after a failure. */
  initialDelayMs: number;
  /** Each further failure multiplies the wait by this. */
  multiplier: number;
  /** The wait never grows past this: a server back after an outage is found within this long. */
  maxDelayMs: number;
  /** ± this fraction of randomness, so many clients do not retry in lockstep. */
  jitter: number;
  /** A Retry-After longer than this is cut to it (a misconfigured server must not park us for hours). */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  initialDelayMs: 500,
  multiplier: 2,
  maxDelayMs: 30_000,
  jitter: 0.2,
  maxRetryAfterMs: 300_000,
};

/** Statuses that say "try again later"; every other 4xx is the client's mistake and final. */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/**
 * What a status says about a request: `delivered` (2xx; a sink may still check the body),
 * `retry`, `unauthorized` (401, 403), `too_large` (413), `redirected` (3xx: never followed for
 * ingest, so data and token go only where the user pointed them) or `rejected` (another 4xx).
 */
export type ResponseVerdict =
  | 'delivered'
  | 'retry'
  | 'unauthorized'
  | 'too_large'
  | 'redirected'
  | 'rejected';

export function judgeStatus(status: number): ResponseVerdict {
  if (status >= 200 && status < 300) return 'delivered';
  if (status >= 300 && status < 400) return 'redirected';
  if (RETRYABLE_STATUSES.has(status)) return 'retry';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 413) return 'too_large';
  if (status >= 500) return 'retry';
  return 'rejected';
}

/** The wait before attempt number `attempt` (1 = the first retry). */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const base = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * policy.multiplier ** Math.max(0, attempt - 1),
  );
  const spread = base * policy.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(base + spread));
}

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(
  header: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
