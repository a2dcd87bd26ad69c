/**
 * The DVC Studio sink: streams a run to Studio's api/live as the reference client (dvclive) does,
 * and better:
 *
 * - `send` only folds the batch into the run's state and wakes a background poster, so the
 *   dispatcher (and training) never waits on Studio.
 * - The poster posts strictly in order: `start` once, then `data` bodies (the summary first, then
 *   the plots, chunked to Studio's limits; what does not fit goes in the next request), and `done`
 *   when the run ends, also when it failed or was interrupted. Nothing is posted after `done`.
 * - A data post carries only the rows Studio has not acknowledged: a row counts as delivered only
 *   after a 200, so a data body stays the same size however long the run grows.
 * - Rate limits, server errors, timeouts and network failures are retried with exponential backoff
 *   and jitter (Retry-After wins); one refused body is counted and later posts go on; a refused
 *   token stops posting. Warnings are throttled, never one per step.
 * - The token goes only into the Authorization header; it is removed from anything shown.
 */

import type { DropReason, Sink, SinkDeliveryState } from '@livestep/core';
import {
  abortableSleep,
  createIdleWaiter,
  createRedactor,
  createThrottledWarning,
  createWarnOnce,
  deliverWithRetry,
  emitLivestepWarning,
  type RetryPolicy,
} from '@livestep/core/sink-kit';
import { type PlotLimits, STUDIO_PLOT_LIMITS, takePlotChunk } from './plot-chunks.js';
import {
  type BodyContext,
  dataPlotsBodyParts,
  dataSummaryBody,
  doneBody,
  startBody,
} from './studio-bodies.js';
import { resolveStudioConfig, type StudioConfig } from './studio-config.js';
import { type IdentityResult, resolveStudioIdentity } from './studio-identity.js';
import { dataEventCount, plotSources } from './studio-plot-sources.js';
import { postToStudio } from './studio-request.js';
import {
  DEFAULT_MAX_UNACKNOWLEDGED_ROWS,
  type SeriesRows,
  StudioRunState,
  type WholePlot,
} from './studio-run-state.js';
import {
  DEFAULT_STUDIO_POST_INTERVAL_MS,
  DEFAULT_STUDIO_REQUEST_TIMEOUT_MS,
  DEFAULT_STUDIO_RETRY_POLICY,
  type StudioSinkOptions,
} from './studio-sink-options.js';

/** At close, this much of the deadline is kept for `done`, so a slow data backlog cannot leave a run "running". */
const DONE_RESERVE_MS = 3_000;
/** The experiment's name if no batch ever named the run (a batch always does; this is a guard). */
const FALLBACK_EXPERIMENT_NAME = 'livestep-run';
/** "Studio is failing, retrying" is said at most this often, however often an outage starts again. */
const RETRY_WARNING_INTERVAL_MS = 10 * 60_000;

/**
 * A sink that streams the run to DVC Studio. Reads what the options leave out from the
 * environment (DVC_STUDIO_TOKEN, DVC_STUDIO_URL, DVC_STUDIO_REPO_URL, ...). Throws a clear error
 * when there is no token or a setting is malformed; when offline (DVC_STUDIO_OFFLINE), returns a
 * sink that posts nothing.
 */
export function createStudioSink(options: StudioSinkOptions = {}): Sink {
  const environment = options.environment ?? process.env;
  const config = resolveStudioConfig(options, environment);
  // Offline (DVC_STUDIO_OFFLINE, read in studio-config.ts): a sink that posts nothing.
  if (config.offline) return { name: 'studio:offline', send() {} };
  if (config.token === undefined) {
    throw new TypeError(
      'livestep: the DVC Studio sink needs an access token; set DVC_STUDIO_TOKEN (or STUDIO_TOKEN), or pass { token }. Studio makes one under Settings > Access tokens',
    );
  }
  return createPostingSink(config, config.token, options);
}

function createPostingSink(config: StudioConfig, token: string, options: StudioSinkOptions): Sink {
  const post = options.fetch ?? globalThis.fetch;
  const policy: RetryPolicy = { ...DEFAULT_STUDIO_RETRY_POLICY, ...options.retryPolicy };
  const limits: PlotLimits = { ...STUDIO_PLOT_LIMITS, ...options.plotLimits };
  if (limits.maxBodyBytes < limits.maxPlotBytes + 1024) {
    throw new TypeError(
      `livestep: plotLimits.maxBodyBytes (${limits.maxBodyBytes}) must exceed plotLimits.maxPlotBytes (${limits.maxPlotBytes}) by at least 1024 bytes, so every plot fits in some request`,
    );
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_STUDIO_REQUEST_TIMEOUT_MS;
  const postIntervalMs = options.postIntervalMs ?? DEFAULT_STUDIO_POST_INTERVAL_MS;
  const url = config.endpointUrl;

  /** Removes the token from anything that will be shown, in case a server or a message echoes it. */
  const redact = createRedactor([token]);
  const emit = options.onWarning ?? emitLivestepWarning;
  const warnOnce = createWarnOnce(emit, redact);
  const warnRetrying = createThrottledWarning(emit, RETRY_WARNING_INTERVAL_MS, redact);

  const failedByReason: Partial<Record<DropReason, number>> = {};
  let lastError: string | undefined;
  const countFailed = (reason: DropReason, count: number) => {
    if (count > 0) failedByReason[reason] = (failedByReason[reason] ?? 0) + count;
  };

  const state = new StudioRunState({
    maxUnacknowledgedRows: options.maxUnacknowledgedRows ?? DEFAULT_MAX_UNACKNOWLEDGED_ROWS,
    maxPlotBytes: limits.maxPlotBytes,
    onDrop: (reason, count, key, message) => {
      countFailed(reason, count);
      lastError = redact(message);
      warnOnce(key, message);
    },
  });

  // Git answers in the background, asked at the first batch; the first post waits for it, the run never does.
  let identity: IdentityResult | undefined;
  /** Identity and name, once git answered and the first batch named the run. */
  let context: BodyContext | undefined;
  let identityReady: Promise<void> | undefined;
  const resolveIdentity = () =>
    resolveStudioIdentity(config).then(
      (result) => {
        identity = result;
      },
      (error: unknown) => {
        identity = {
          error: `livestep: the DVC Studio identity could not be resolved: ${String(error)}`,
        };
      },
    );

  /** A config error or a refused token: nothing more can be posted in this process. */
  let disabled = false;
  let disabledReason: DropReason = 'send_error';
  let started = false;
  let startFinished = false;
  let postedSummaryVersion = 0;
  let closing = false;
  let doneFinished = false;
  let closed: Promise<void> | undefined;
  let lastDataPostAt = Number.NEGATIVE_INFINITY;
  let hurrying = 0;
  let looping = false;
  let loopDone: Promise<void> = Promise.resolve();
  const stopData = new AbortController();
  let wakeSleep: (() => void) | undefined;
  const idle = createIdleWaiter();

  const summaryDirty = () => state.summaryVersion !== postedSummaryVersion;
  const dataPending = () =>
    state.pendingCount() + (started && !startFinished ? 1 : 0) + (summaryDirty() ? 1 : 0);
  const pending = () => {
    if (disabled) return 0;
    return dataPending() + (closing && startFinished && !doneFinished ? 1 : 0);
  };

  function disable(reason: DropReason, message: string, key: string): void {
    disabled = true;
    disabledReason = reason;
    lastError = redact(message);
    countFailed(reason, state.discardPending());
    warnOnce(key, message);
    stopData.abort();
  }

  /**
   * Posts one body until Studio takes it, refuses it for good, or posting stops (core's retry
   * loop; Studio's status rules are in studio-request.ts). `deadline`: no wait that ends past it.
   */
  async function deliver(
    body: string,
    what: 'start' | 'data' | 'plots' | 'done',
    signal: AbortSignal,
    deadline = Number.POSITIVE_INFINITY,
  ): Promise<'delivered' | 'rejected' | 'stopped'> {
    if (disabled) return 'stopped';
    const result = await deliverWithRetry(body, {
      policy,
      signal,
      deadline,
      attempt: (payload, attempt) => {
        const timeoutMs = Math.min(requestTimeoutMs, attempt.deadline - Date.now());
        return postToStudio({ fetch: post, url, token, body: payload, timeoutMs, signal, redact });
      },
      onRetry: ({ outcome }) => {
        lastError = redact(outcome.reason);
        warnRetrying(
          `livestep: DVC Studio did not take a post (${outcome.reason}); retrying with backoff, the data is kept meanwhile`,
        );
      },
    });
    if (result.verdict === 'delivered') return 'delivered';
    // A stop keeps the last failure's reason (already redacted) for the report.
    lastError = result.verdict === 'stopped' ? (result.last?.reason ?? lastError) : lastError;
    if (result.verdict === 'stopped') return 'stopped';
    const { outcome } = result;
    if (outcome.stopsPosting) {
      disable(
        'rejected',
        `livestep: DVC Studio refused the token (${outcome.reason}); nothing more is sent to Studio in this run. Set DVC_STUDIO_TOKEN to a valid Studio access token (Settings > Access tokens)`,
        'unauthorized',
      );
      return 'stopped';
    }
    lastError = redact(outcome.reason);
    warnOnce(
      `rejected:${what}:${outcome.status}`,
      `livestep: DVC Studio refused a ${what} post (${outcome.reason}); it is counted as failed and later posts go on`,
    );
    return 'rejected';
  }

  /** Waits the post interval, unless a flush (wakeSleep) or the end wants everything now. */
  function pause(milliseconds: number): Promise<void> {
    const wake = new AbortController();
    wakeSleep = () => wake.abort();
    return abortableSleep(milliseconds, AbortSignal.any([wake.signal, stopData.signal])).finally(
      () => {
        wakeSleep = undefined;
      },
    );
  }

  async function postPlots(context: BodyContext): Promise<void> {
    state.beginCycle();
    while (!stopData.signal.aborted && !disabled) {
      const { sources, owners } = plotSources(state, context);
      if (sources.length === 0) return;
      const { opening, closing: end } = dataPlotsBodyParts(context, state);
      const chunk = takePlotChunk(
        sources,
        Buffer.byteLength(opening) + Buffer.byteLength(end),
        limits,
      );
      if (chunk.plots === 0) {
        // Cannot happen with limits that passed the check above; never loop on it anyway.
        settle(owners[0]!, 1, 'rejected');
        continue;
      }
      owners.forEach((owner, index) => {
        if ('rows' in owner) owner.sending = chunk.taken[index]!;
      });
      const outcome = await deliver(`${opening}${chunk.json}${end}`, 'plots', stopData.signal);
      if (outcome === 'stopped') {
        for (const owner of owners) if ('rows' in owner) owner.sending = 0;
        return;
      }
      owners.forEach((owner, index) => {
        const taken = chunk.taken[index]!;
        if (taken > 0) settle(owner, taken, outcome);
      });
    }
  }

  function settle(
    owner: SeriesRows | WholePlot,
    count: number,
    outcome: 'delivered' | 'rejected',
  ): void {
    if (outcome === 'rejected') countFailed('rejected', count);
    if ('rows' in owner) state.removeRows(owner, count);
    else state.removeWholePlot(owner);
  }

  async function postData(context: BodyContext): Promise<void> {
    const version = state.summaryVersion;
    const outcome = await deliver(dataSummaryBody(context, state), 'data', stopData.signal);
    if (outcome === 'stopped') return;
    if (outcome === 'rejected') countFailed('rejected', 1);
    postedSummaryVersion = version;
    await postPlots(context);
  }

  async function loop(): Promise<void> {
    looping = true;
    try {
      identityReady ??= resolveIdentity();
      if (identity === undefined) await identityReady;
      if (identity === undefined || 'error' in identity) {
        disable('send_error', identity?.error ?? 'livestep: no DVC Studio identity', 'identity');
        return;
      }
      context ??= {
        identity: identity.identity,
        name: config.experimentName ?? state.runName ?? FALLBACK_EXPERIMENT_NAME,
      };
      while (!stopData.signal.aborted && !disabled) {
        if (!startFinished) {
          const outcome = await deliver(startBody(context, state), 'start', stopData.signal);
          if (outcome === 'stopped') return;
          startFinished = true;
          continue;
        }
        if (state.pendingCount() === 0 && !summaryDirty()) return;
        const wait = lastDataPostAt + postIntervalMs - Date.now();
        if (wait > 0 && hurrying === 0 && !closing) {
          await pause(wait);
          continue;
        }
        lastDataPostAt = Date.now();
        await postData(context);
      }
    } catch (error) {
      lastError = redact(error instanceof Error ? error.message : String(error));
      warnOnce(`loop:${lastError}`, `livestep: the DVC Studio sink stopped posting: ${lastError}`);
    } finally {
      looping = false;
      idle.wake();
    }
  }

  function kick(): void {
    if (looping || disabled || stopData.signal.aborted || !started) return;
    loopDone = loop();
  }

  /** Waits until `isSettled()`, or the deadline passed, restarting the poster if it stopped. */
  const waitUntil = (isSettled: () => boolean, deadline: number) =>
    idle.waitUntil(isSettled, deadline, kick);

  async function close(deadline: number): Promise<void> {
    closing = true;
    hurrying++;
    wakeSleep?.();
    const reserve = Math.min(DONE_RESERVE_MS, Math.max(0, deadline - Date.now()) / 2);
    await waitUntil(() => disabled || dataPending() === 0, deadline - reserve);
    // Stop data posting (an in-flight request is aborted), so `done` is the last thing posted.
    stopData.abort();
    await loopDone;
    if (disabled) return;
    const left = state.discardPending() + (summaryDirty() ? 1 : 0);
    if (left > 0) {
      countFailed('send_error', left);
      lastError ??= 'the run ended before DVC Studio acknowledged everything';
      warnOnce(
        'left_at_close',
        `livestep: the run ended before DVC Studio acknowledged ${left} metric rows and plots (last error: ${lastError}); they are not in Studio, but ${config.directory} has every one: send them with \`npx livestep sync ${config.directory} --to studio\` (same DVC_STUDIO_* settings)`,
      );
    }
    if (!startFinished || context === undefined) {
      doneFinished = true;
      return;
    }
    const outcome = await deliver(
      doneBody(context, state.ending, redact),
      'done',
      // Whole milliseconds: AbortSignal.timeout throws on a fraction (a deadline may carry one).
      AbortSignal.timeout(Math.max(1, Math.ceil(deadline - Date.now()))),
      deadline,
    );
    doneFinished = true;
    if (outcome !== 'delivered') {
      countFailed(outcome === 'rejected' ? 'rejected' : 'send_error', 1);
      warnOnce(
        'done_not_delivered',
        `livestep: DVC Studio did not take the end of the run (${lastError ?? 'no answer before the deadline'}); it may show the experiment as running`,
      );
    }
  }

  return {
    name: `studio:${url.origin}`,
    // Folds the batch into the state and returns at once: the dispatcher never waits on Studio.
    send(batch) {
      if (disabled || closing) {
        countFailed(disabled ? disabledReason : 'logged_after_end', dataEventCount(batch));
        return;
      }
      started = true;
      state.apply(batch);
      kick();
    },
    async flush({ deadline }) {
      hurrying++;
      wakeSleep?.();
      try {
        await waitUntil(() => disabled || pending() === 0, deadline);
      } finally {
        hurrying--;
      }
    },
    close({ deadline }) {
      closed ??= close(deadline);
      return closed;
    },
    report(): SinkDeliveryState {
      const report: SinkDeliveryState = {
        pending: pending(),
        failedByReason: { ...failedByReason },
      };
      if (lastError !== undefined) report.lastError = lastError;
      const undelivered = Object.values(failedByReason).reduce((sum, count) => sum + count, 0);
      if (undelivered > 0) {
        // Every row is in the run folder: the sync command posts what Studio did not take.
        report.recoverWith = `npx livestep sync ${config.directory} --to studio`;
      }
      return report;
    },
  };
}
