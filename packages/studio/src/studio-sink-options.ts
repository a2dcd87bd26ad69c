/**
 * What a Studio sink can be given, and the defaults for what it is not: the settings Studio's
 * reference client reads from the environment are in StudioConfigInput (studio-config.ts); the
 * ones here are this sink's own (transport, timing, limits, where warnings go).
 */
import type { RetryPolicy } from '@livestep/core/sink-kit';
import type { PlotLimits } from './plot-chunks.js';
import type { StudioConfigInput } from './studio-config.js';

/**
 * Backoff between retries: 1 s doubling to 60 s, ±20% jitter. Studio is a shared service, so a
 * client backs off further than for a local server; a minute between tries still finds it soon
 * after an outage. A Retry-After longer than 5 minutes is cut to that.
 */
export const DEFAULT_STUDIO_RETRY_POLICY: Readonly<RetryPolicy> = {
  initialDelayMs: 1_000,
  multiplier: 2,
  maxDelayMs: 60_000,
  jitter: 0.2,
  maxRetryAfterMs: 300_000,
};
/**
 * One request is abandoned (and retried) after this long. The reference waits 30 s to connect and
 * 5 s to read; one overall limit of 30 s covers both, for bodies of up to 29 MB on slow uplinks.
 */
export const DEFAULT_STUDIO_REQUEST_TIMEOUT_MS = 30_000;
/**
 * At most one data post per this interval while the run goes on (flush and end post at once).
 * DVCLive posts every step, which for a fast loop is hundreds a second; a second is live enough
 * for a chart and keeps a shared service's load independent of the loop's speed.
 */
export const DEFAULT_STUDIO_POST_INTERVAL_MS = 1_000;

export interface StudioSinkOptions extends StudioConfigInput {
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Per request (default 30 s). */
  requestTimeoutMs?: number;
  retryPolicy?: Partial<RetryPolicy>;
  /** Least time between two data posts while the run goes on (default 1 s). */
  postIntervalMs?: number;
  /** Rows held for Studio before the oldest are dropped and counted (default 500,000). */
  maxUnacknowledgedRows?: number;
  /** Studio's request limits (default: 200 plots, 10 MB a plot, 29 MB a body); smaller for tests. */
  plotLimits?: Partial<PlotLimits>;
  /** The environment to read DVC_STUDIO_* and LIVESTEP_DIR from (default process.env). */
  environment?: NodeJS.ProcessEnv;
  /** Where warnings go (default process.emitWarning). Never gets the token. */
  onWarning?: (message: string) => void;
}
