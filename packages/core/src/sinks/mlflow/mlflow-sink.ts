/**
 * The MLflow sink: records a run into an MLflow tracking server over its REST API
 * (backends.md D), on core's delivery kit.
 *
 * - `send` turns the batch into MLflow entities (mlflow-entities.ts), queues them and returns: the
 *   dispatcher, and training, never wait on MLflow. One background poster sends, strictly in
 *   order: the experiment (get or create), `runs/create` with the run's name, start time and
 *   tags, then `runs/log-batch` requests within MLflow's limits (mlflow-log-batch.ts), then
 *   `runs/update` with FINISHED, FAILED or KILLED and the end time once the run ended.
 * - Params are written once: a key already sent with the same value is not sent again; with a
 *   different value it cannot be changed in MLflow (params are write-once), so the sink warns and
 *   MLflow keeps the first value.
 * - Retries are the kit's (deliverWithRetry: backoff, jitter, Retry-After); MLflow's status rules
 *   are in mlflow-request.ts. Refused credentials, a deleted run or a wrong URI stop posting.
 * - At close, what MLflow has not taken by the deadline is counted as failed and said in the
 *   flush report (the run folder has it; `livestep sync` does not target MLflow yet).
 */

import { abortableSleep } from '../../delivery/abortable-sleep.js';
import { deliverWithRetry } from '../../delivery/deliver-with-retry.js';
import { emitLivestepWarning } from '../../delivery/livestep-warning.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../../delivery/retry-policy.js';
import { createIdleWaiter } from '../../delivery/wait-until.js';
import { createThrottledWarning, createWarnOnce } from '../../delivery/warn-once.js';
import type { DropReason, Sink, SinkDeliveryState } from '../../pipeline/sink.js';
import type { RunIdentity } from '../../protocol/events.js';
import { resolveMlflowConfig } from './mlflow-config.js';
import { type Cut, MLFLOW_LIMITS, type MlflowLimits, runTags } from './mlflow-entities.js';
import { MlflowQueue, NOT_SENT_KINDS } from './mlflow-queue.js';
import { type MlflowAnswer, type MlflowCall, requestMlflow } from './mlflow-request.js';
import { type CallResult, startMlflowRun } from './mlflow-run-start.js';
import {
  DEFAULT_MLFLOW_MAX_QUEUED,
  DEFAULT_MLFLOW_POST_INTERVAL_MS,
  DEFAULT_MLFLOW_REQUEST_TIMEOUT_MS,
  MLFLOW_RETRY_WARNING_INTERVAL_MS,
  MLFLOW_UPDATE_RESERVE_MS,
  type MlflowSinkOptions,
} from './mlflow-sink-options.js';

export type { MlflowSinkOptions } from './mlflow-sink-options.js';

/** livestep's end status → MLflow's RunStatus (sent by name, backends.md D.1). */
export const MLFLOW_RUN_STATUS = {
  completed: 'FINISHED',
  failed: 'FAILED',
  interrupted: 'KILLED',
} as const;

/**
 * A sink that records the run into MLflow. Reads what the options leave out from the environment
 * (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN or _USERNAME/_PASSWORD, MLFLOW_EXPERIMENT_NAME);
 * throws a clear error when the URI is missing or cannot be used.
 */
export function createMlflowSink(options: MlflowSinkOptions = {}): Sink {
  const config = resolveMlflowConfig(options);
  const { redact } = config;
  const limits: MlflowLimits = { ...MLFLOW_LIMITS, ...options.limits };
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retryPolicy };
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_MLFLOW_REQUEST_TIMEOUT_MS;
  const postIntervalMs = options.postIntervalMs ?? DEFAULT_MLFLOW_POST_INTERVAL_MS;
  if (typeof postIntervalMs !== 'number' || !(postIntervalMs >= 0)) {
    throw new TypeError(
      `livestep: the MLflow sink's postIntervalMs must be a number of milliseconds >= 0 (0 posts at once), got ${String(postIntervalMs)}`,
    );
  }
  const maxQueued = options.maxQueued ?? DEFAULT_MLFLOW_MAX_QUEUED;
  if (!Number.isSafeInteger(maxQueued) || maxQueued < 1) {
    throw new TypeError(
      `livestep: the MLflow sink's maxQueued must be a whole number >= 1 (entities kept waiting), got ${String(maxQueued)}`,
    );
  }
  const transport = { config, fetch: options.fetch, timeoutMs: requestTimeoutMs };
  const emit = options.onWarning ?? emitLivestepWarning;
  const warnOnce = createWarnOnce(emit, redact);
  const warnRetrying = createThrottledWarning(emit, MLFLOW_RETRY_WARNING_INTERVAL_MS, redact);
  const onCut = (cut: Cut) =>
    warnOnce(
      `cut:${cut.what}:${cut.key}`,
      `livestep: MLflow ${cut.what} "${cut.key.slice(0, 80)}" is ${cut.length} characters; MLflow takes at most ${cut.limit}, so it was cut to that (the run folder keeps it whole)`,
    );

  let runId: string | undefined;
  let updated = false;
  let lastPostAt = Number.NEGATIVE_INFINITY;
  /** flush() and close() calls under way: the post interval is not waited then. */
  let hurrying = 0;
  let wakeSleep: (() => void) | undefined;

  const failedByReason: Partial<Record<DropReason, number>> = {};
  let lastError: string | undefined;
  const countFailed = (reason: DropReason, count: number) => {
    if (count > 0) failedByReason[reason] = (failedByReason[reason] ?? 0) + count;
  };
  let disabled = false;
  let disabledReason: DropReason = 'send_error';
  let closing = false;
  /** Close passed its deadline: what is left was counted as failed. */
  let givenUp = false;
  let closed: Promise<void> | undefined;
  /** Waits and retries never go past this (set at close). */
  let dataDeadline = Number.POSITIVE_INFINITY;
  const stopData = new AbortController();
  let looping = false;
  let loopDone: Promise<void> = Promise.resolve();
  const idle = createIdleWaiter();
  const queue = new MlflowQueue({
    limits,
    maxQueued,
    onCut,
    warnOnce,
    countFailed,
    lastError: () => lastError,
  });
  const started = () => queue.identity !== undefined;
  const ending = () => queue.done !== undefined && !updated;

  /** Events not yet in MLflow: queued entities, the run's start, its end. */
  const pending = () => {
    if (disabled || givenUp) return 0;
    return queue.events + (started() && runId === undefined ? 1 : 0) + (ending() ? 1 : 0);
  };

  /** Empties the queue; returns its events and the start's, if the run was not created. */
  function discardQueue(): number {
    return queue.discard() + (started() && runId === undefined ? 1 : 0);
  }

  function disable(reason: DropReason, message: string, key: string): void {
    if (disabled) return;
    countFailed(reason, discardQueue() + (ending() ? 1 : 0));
    disabled = true;
    disabledReason = reason;
    lastError = redact(message);
    warnOnce(key, message);
    stopData.abort();
  }

  /** One call until MLflow answers it, refuses it for good, or delivery stops. */
  async function deliver(
    call: MlflowCall,
    signal: AbortSignal,
    deadline: () => number,
  ): Promise<CallResult> {
    if (disabled) return { kind: 'stopped' };
    let answer: MlflowAnswer | undefined;
    const result = await deliverWithRetry(call, {
      policy,
      signal,
      deadline,
      attempt: async (payload, attempt) => {
        const timeoutMs = Math.min(requestTimeoutMs, attempt.deadline - Date.now());
        const judged = await requestMlflow(transport, payload, attempt.signal, timeoutMs);
        answer = judged.answer;
        return judged.outcome;
      },
      onRetry: ({ outcome }) => {
        lastError = redact(outcome.reason);
        warnRetrying(
          `livestep: MLflow did not take a request (${outcome.reason}); retrying with backoff, the data is kept meanwhile`,
        );
      },
    });
    if (result.verdict === 'delivered' && answer !== undefined) return { kind: 'answer', answer };
    if (result.verdict === 'stopped') {
      lastError = result.last?.reason ?? lastError;
      return { kind: 'stopped' };
    }
    if (result.verdict === 'delivered') return { kind: 'stopped' };
    const { outcome } = result;
    if (outcome.stopsPosting) {
      disable(
        'rejected',
        `livestep: ${outcome.reason}; nothing more is sent to MLflow in this run (the run folder has everything)`,
        `stop:${outcome.status}`,
      );
      return { kind: 'stopped' };
    }
    lastError = outcome.reason;
    warnOnce(
      `refused:${call.path}:${outcome.status}`,
      `livestep: MLflow refused a ${call.path} request (${outcome.reason}); what it carried is counted as rejected and later requests go on`,
    );
    return { kind: 'refused', reason: outcome.reason };
  }

  const deliverData = (call: MlflowCall) => deliver(call, stopData.signal, () => dataDeadline);

  async function createRun(run: RunIdentity): Promise<boolean> {
    const result = await startMlflowRun(deliverData, config.experimentName ?? run.experiment, {
      name: run.name,
      startTime: queue.start?.ts ?? Date.now(),
      tags: runTags(run, queue.start, options.sourceName ?? process.argv[1], limits, onCut),
    });
    if (result.kind === 'stopped') return false;
    if (result.kind === 'failed') {
      disable(
        'rejected',
        `livestep: the MLflow run could not be created: ${result.reason}`,
        'create',
      );
      return false;
    }
    runId = result.runId;
    return true;
  }

  async function updateRun(signal: AbortSignal, deadline: () => number): Promise<void> {
    const done = queue.done;
    if (runId === undefined || done === undefined || updated) return;
    const result = await deliver(
      {
        method: 'POST',
        path: 'runs/update',
        body: JSON.stringify({
          run_id: runId,
          status: MLFLOW_RUN_STATUS[done.status],
          end_time: Math.max(0, Math.round(done.ts)),
        }),
      },
      signal,
      deadline,
    );
    if (result.kind === 'stopped') return;
    updated = true;
    if (result.kind === 'refused') countFailed('rejected', 1);
  }

  /** Waits `milliseconds`, unless a flush, the end or a stop wants everything now. */
  function pause(milliseconds: number): Promise<void> {
    const wake = new AbortController();
    wakeSleep = () => wake.abort();
    return abortableSleep(milliseconds, AbortSignal.any([wake.signal, stopData.signal])).finally(
      () => {
        wakeSleep = undefined;
      },
    );
  }

  async function loop(): Promise<void> {
    looping = true;
    try {
      while (!disabled && !stopData.signal.aborted) {
        const run = queue.identity;
        if (run === undefined) return;
        if (runId === undefined) {
          if (!(await createRun(run))) return;
          continue;
        }
        const chunk = queue.take(runId);
        if (chunk !== undefined) {
          // A request that is not full waits out the post interval, gathering more points (a
          // slow loop must not cost one request per batch); a full one, a flush or the end go now.
          const full = chunk.count < queue.length || chunk.count >= limits.maxEntities;
          const wait = lastPostAt + postIntervalMs - Date.now();
          if (!full && wait > 0 && hurrying === 0 && !closing && !ending()) {
            await pause(wait);
            continue;
          }
          lastPostAt = Date.now();
          const body = chunk.json;
          const result = await deliverData({ method: 'POST', path: 'runs/log-batch', body });
          if (result.kind === 'stopped') return;
          queue.settle(chunk);
          if (result.kind === 'refused') countFailed('rejected', chunk.events);
          continue;
        }
        if (ending()) await updateRun(stopData.signal, () => dataDeadline);
        return;
      }
    } catch (error) {
      lastError = redact(error instanceof Error ? error.message : String(error));
      warnOnce(`loop:${lastError}`, `livestep: the MLflow sink stopped posting: ${lastError}`);
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
    wakeSleep?.();
    const reserve = Math.min(MLFLOW_UPDATE_RESERVE_MS, Math.max(0, deadline - Date.now()) / 2);
    dataDeadline = deadline - reserve;
    await idle.waitUntil(() => disabled || pending() === 0, dataDeadline, kick);
    if (disabled || pending() === 0) return;
    stopData.abort();
    await loopDone;
    const left = discardQueue();
    if (left > 0) {
      countFailed('send_error', left);
      warnOnce(
        'left_at_close',
        `livestep: the run ended before MLflow took ${left} events (last error: ${lastError ?? 'none'}); they are not in MLflow, but the run folder has every one (livestep sync does not target MLflow yet)`,
      );
    }
    if (runId === undefined || !ending()) {
      if (ending()) countFailed('send_error', 1);
      givenUp = true;
      return;
    }
    await updateRun(AbortSignal.timeout(Math.max(1, deadline - Date.now())), () => deadline);
    if (!updated && !disabled) {
      givenUp = true;
      countFailed('send_error', 1);
      warnOnce(
        'update_not_delivered',
        `livestep: MLflow did not take the end of the run (${lastError ?? 'no answer before the deadline'}); it may show the run as RUNNING`,
      );
    }
  }

  return {
    name: `mlflow:${config.origin}`,
    send(batch) {
      if (disabled || closing || updated) {
        const count = batch.events.filter((event) => !NOT_SENT_KINDS.has(event.kind)).length;
        countFailed(disabled ? disabledReason : 'logged_after_end', count);
        return;
      }
      queue.apply(batch);
      kick();
    },
    async flush({ deadline }) {
      hurrying++;
      wakeSleep?.();
      try {
        await idle.waitUntil(() => disabled || pending() === 0, deadline, kick);
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
      return report;
    },
  };
}
