/**
 * The Dioptra sink: records a run's metric points into a Dioptra job over its REST API
 * (backends.md B), on core's delivery kit.
 *
 * - `send` queues the batch's metric points and returns: the dispatcher, and training, never
 *   wait on Dioptra. One background poster sends them strictly in order, one
 *   `POST /api/v1/jobs/{id}/metrics` a point (the only form Dioptra takes), one request at a time
 *   and at most `maxRequestsPerSecond`; nothing is merged or dropped on the way.
 * - With a login configured it logs in first (session cookie); a 401 later (the session expired)
 *   logs in again once and resends the point; a second 401, or a refused login, stops posting.
 * - Retries are the kit's (deliverWithRetry: backoff, jitter, Retry-After); Dioptra's status
 *   rules are in dioptra-request.ts.
 * - Only metrics: params, plots, images, artifacts and annotations have no place in Dioptra's
 *   metric API (they are in the run folder); the job's status is the Dioptra worker's to set.
 * - At close, what Dioptra has not taken by the deadline is counted as failed and said in the
 *   flush report (the run folder has it; `livestep sync` does not target Dioptra).
 */
import { abortableSleep } from '../../delivery/abortable-sleep.js';
import { deliverWithRetry } from '../../delivery/deliver-with-retry.js';
import { emitLivestepWarning } from '../../delivery/livestep-warning.js';
import type { PermanentOutcome } from '../../delivery/request-outcome.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../../delivery/retry-policy.js';
import { createIdleWaiter } from '../../delivery/wait-until.js';
import { createThrottledWarning, createWarnOnce } from '../../delivery/warn-once.js';
import type { DropReason, Sink, SinkDeliveryState } from '../../pipeline/sink.js';
import { resolveDioptraConfig } from './dioptra-config.js';
import { dioptraMetricBody, PointQueue } from './dioptra-points.js';
import { DioptraSession, loginToDioptra, postDioptraMetric } from './dioptra-request.js';
import {
  DEFAULT_DIOPTRA_MAX_QUEUED,
  DEFAULT_DIOPTRA_MAX_REQUESTS_PER_SECOND,
  DEFAULT_DIOPTRA_REQUEST_TIMEOUT_MS,
  DIOPTRA_CLOSE_RESERVE_MS,
  DIOPTRA_RETRY_WARNING_INTERVAL_MS,
  type DioptraSinkOptions,
} from './dioptra-sink-options.js';

export { decodeDioptraName, encodeDioptraName } from './dioptra-names.js';
export type { DioptraSinkOptions } from './dioptra-sink-options.js';

/** Event kinds Dioptra's metric API has no place for (they are in the run folder). */
export const DIOPTRA_NOT_SENT_KINDS: ReadonlySet<string> = new Set([
  'params',
  'plot',
  'image',
  'artifact',
  'annotation',
]);

type Delivered =
  | { kind: 'delivered' }
  | { kind: 'stopped' }
  | { kind: 'permanent'; outcome: PermanentOutcome };

/**
 * A sink that records the run's metrics into a Dioptra job. Reads what the options leave out
 * from the environment (DIOPTRA_API, DIOPTRA_JOB_ID, DIOPTRA_USERNAME and DIOPTRA_PASSWORD);
 * throws a clear error when the API or the job is missing or cannot be used.
 */
export function createDioptraSink(options: DioptraSinkOptions = {}): Sink {
  const config = resolveDioptraConfig(options);
  const session = new DioptraSession(config.login?.password);
  const { redact } = session;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retryPolicy };
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_DIOPTRA_REQUEST_TIMEOUT_MS;
  const perSecond = options.maxRequestsPerSecond ?? DEFAULT_DIOPTRA_MAX_REQUESTS_PER_SECOND;
  if (typeof perSecond !== 'number' || !(perSecond > 0)) {
    throw new TypeError(
      `livestep: the Dioptra sink's maxRequestsPerSecond must be a number > 0 (Infinity for no bound), got ${String(perSecond)}`,
    );
  }
  const intervalMs = 1000 / perSecond;
  const maxQueued = options.maxQueued ?? DEFAULT_DIOPTRA_MAX_QUEUED;
  if (!Number.isSafeInteger(maxQueued) || maxQueued < 1) {
    throw new TypeError(
      `livestep: the Dioptra sink's maxQueued must be a whole number >= 1 (points kept waiting), got ${String(maxQueued)}`,
    );
  }
  const transport = { config, session, fetch: options.fetch, timeoutMs: requestTimeoutMs };
  const emit = options.onWarning ?? emitLivestepWarning;
  const warnOnce = createWarnOnce(emit, redact);
  const warnRetrying = createThrottledWarning(emit, DIOPTRA_RETRY_WARNING_INTERVAL_MS, redact);

  const queue = new PointQueue();
  let loggedIn = false;
  /** The point at the front was answered 401 and the sink logged in again for it. */
  let reloggedForFront = false;
  let lastPostAt = Number.NEGATIVE_INFINITY;
  /** The last step sent per name: Dioptra keeps one value per name and step (an upsert, B.3). */
  const lastStep = new Map<string, number>();

  const failedByReason: Partial<Record<DropReason, number>> = {};
  let lastError: string | undefined;
  const countFailed = (reason: DropReason, count: number) => {
    if (count > 0) failedByReason[reason] = (failedByReason[reason] ?? 0) + count;
  };
  let disabled = false;
  let disabledReason: DropReason = 'send_error';
  let closing = false;
  let givenUp = false;
  let closed: Promise<void> | undefined;
  let dataDeadline = Number.POSITIVE_INFINITY;
  const stopData = new AbortController();
  let looping = false;
  let loopDone: Promise<void> = Promise.resolve();
  const idle = createIdleWaiter();

  const pending = () => (disabled || givenUp ? 0 : queue.length);

  function disable(reason: DropReason, message: string, key: string): void {
    if (disabled) return;
    countFailed(reason, queue.discard());
    disabled = true;
    disabledReason = reason;
    lastError = redact(message);
    warnOnce(key, message);
    stopData.abort();
  }

  /** One request until Dioptra takes it, refuses it for good, or delivery stops. */
  async function deliver(call: 'login' | 'metrics', body: string): Promise<Delivered> {
    const result = await deliverWithRetry(body, {
      policy,
      signal: stopData.signal,
      deadline: () => dataDeadline,
      attempt: (payload, attempt) => {
        const timeoutMs = Math.min(requestTimeoutMs, attempt.deadline - Date.now());
        return call === 'login'
          ? loginToDioptra(transport, attempt.signal, timeoutMs)
          : postDioptraMetric(transport, payload, attempt.signal, timeoutMs);
      },
      onRetry: ({ outcome }) => {
        lastError = redact(outcome.reason);
        warnRetrying(
          `livestep: Dioptra did not take a request (${outcome.reason}); retrying with backoff, the points are kept meanwhile`,
        );
      },
    });
    if (result.verdict === 'delivered') return { kind: 'delivered' };
    if (result.verdict === 'stopped') {
      lastError = result.last?.reason ?? lastError;
      return { kind: 'stopped' };
    }
    return { kind: 'permanent', outcome: result.outcome };
  }

  function stop(outcome: PermanentOutcome): void {
    disable(
      'rejected',
      `livestep: ${outcome.reason}; nothing more is sent to Dioptra in this run (the run folder has everything)`,
      `stop:${outcome.status}`,
    );
  }

  async function login(): Promise<boolean> {
    const result = await deliver('login', '');
    if (result.kind === 'delivered') {
      loggedIn = true;
      return true;
    }
    if (result.kind === 'permanent') stop(result.outcome);
    return false;
  }

  function noteRepeatedStep(name: string, step: number): void {
    const last = lastStep.get(name);
    lastStep.set(name, step);
    // Only the same step again collides in Dioptra; an earlier step (an evaluation logged at an
    // older step) is a different point there.
    if (last === undefined || step !== last) return;
    warnOnce(
      `repeated-step:${name}`,
      `livestep: metric "${name}" was logged more than once at step ${step}; Dioptra keeps one value per name and step, so the later point replaces the earlier there (the run folder has both)`,
    );
  }

  async function loop(): Promise<void> {
    looping = true;
    try {
      while (!disabled && !stopData.signal.aborted) {
        if (config.login !== undefined && !loggedIn) {
          if (!(await login())) return;
          continue;
        }
        const event = queue.peek();
        if (event === undefined) return;
        const wait = lastPostAt + intervalMs - Date.now();
        if (wait > 0) {
          await abortableSleep(wait, stopData.signal);
          continue;
        }
        const body = dioptraMetricBody(event);
        lastPostAt = Date.now();
        const result = await deliver('metrics', JSON.stringify(body));
        if (result.kind === 'stopped') return;
        if (result.kind === 'permanent') {
          const { outcome } = result;
          if (outcome.status === 401 && config.login !== undefined && !reloggedForFront) {
            // The session expired: log in again, once, and resend this point.
            reloggedForFront = true;
            loggedIn = false;
            continue;
          }
          if (outcome.stopsPosting) {
            stop(outcome);
            return;
          }
          lastError = outcome.reason;
          countFailed('rejected', 1);
          warnOnce(
            `refused:${outcome.status}`,
            `livestep: Dioptra refused metric "${body.name}" (${outcome.reason}); that point is counted as rejected and later points go on`,
          );
        } else {
          noteRepeatedStep(body.name, body.step);
        }
        reloggedForFront = false;
        queue.shift();
      }
    } catch (error) {
      lastError = redact(error instanceof Error ? error.message : String(error));
      warnOnce(`loop:${lastError}`, `livestep: the Dioptra sink stopped posting: ${lastError}`);
    } finally {
      looping = false;
      idle.wake();
    }
  }

  function kick(): void {
    if (looping || disabled || stopData.signal.aborted) return;
    loopDone = loop();
  }

  async function close(deadline: number): Promise<void> {
    closing = true;
    const reserve = Math.min(DIOPTRA_CLOSE_RESERVE_MS, Math.max(0, deadline - Date.now()) / 2);
    dataDeadline = deadline - reserve;
    await idle.waitUntil(() => disabled || pending() === 0, dataDeadline, kick);
    if (disabled || pending() === 0) return;
    stopData.abort();
    await loopDone;
    const left = queue.discard();
    givenUp = true;
    if (left > 0) {
      countFailed('send_error', left);
      warnOnce(
        'left_at_close',
        `livestep: the run ended before Dioptra took ${left} metric points (last error: ${lastError ?? 'none'}); they are not in Dioptra job ${config.jobId}, but the run folder has every one`,
      );
    }
  }

  return {
    name: `dioptra:${config.origin}/jobs/${config.jobId}`,
    send(batch) {
      let points = 0;
      for (const event of batch.events) {
        if (event.kind === 'metric') {
          points++;
          if (disabled || closing) continue;
          if (queue.length >= maxQueued) {
            countFailed('queue_overflow', 1);
            warnOnce(
              'overflow',
              `livestep: more than ${maxQueued} metric points are waiting for Dioptra (${lastError ?? 'it is slow'}); newer ones are not sent to Dioptra (the run folder has them)`,
            );
            continue;
          }
          queue.push(event);
        } else if (DIOPTRA_NOT_SENT_KINDS.has(event.kind)) {
          warnOnce(
            `not-sent:${event.kind}`,
            `livestep: the Dioptra sink sends metrics only (Dioptra's metric API takes scalars); ${event.kind} events are not sent to Dioptra (the run folder has them)`,
          );
        }
      }
      if (disabled || closing) {
        countFailed(disabled ? disabledReason : 'logged_after_end', points);
        return;
      }
      kick();
    },
    async flush({ deadline }) {
      await idle.waitUntil(() => disabled || pending() === 0, deadline, kick);
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
      return report;
    },
  };
}
