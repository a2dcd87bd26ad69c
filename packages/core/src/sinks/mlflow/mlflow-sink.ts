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

import { deliverWithRetry } from '../../delivery/deliver-with-retry.js';
import { emitLivestepWarning } from '../../delivery/livestep-warning.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../../delivery/retry-policy.js';
import { createIdleWaiter } from '../../delivery/wait-until.js';
import { createThrottledWarning, createWarnOnce } from '../../delivery/warn-once.js';
import type { DropReason, Sink, SinkDeliveryState } from '../../pipeline/sink.js';
import type { Batch, DoneEvent, RunIdentity, StartEvent } from '../../protocol/events.js';
import { resolveMlflowConfig } from './mlflow-config.js';
import {
  type Cut,
  cutValue,
  flattenParams,
  MLFLOW_LIMITS,
  type MlflowEntity,
  type MlflowLimits,
  metricEntity,
  mlflowKey,
  runTags,
  tagEntity,
} from './mlflow-entities.js';
import { takeLogBatch } from './mlflow-log-batch.js';
import { type MlflowAnswer, type MlflowCall, requestMlflow } from './mlflow-request.js';
import { type CallResult, startMlflowRun } from './mlflow-run-start.js';
import {
  DEFAULT_MLFLOW_MAX_QUEUED,
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

const NOT_SENT_KINDS = new Set(['plot', 'image', 'artifact', 'annotation']);

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
  const maxQueued = options.maxQueued ?? DEFAULT_MLFLOW_MAX_QUEUED;
  const transport = { config, fetch: options.fetch, timeoutMs: requestTimeoutMs };
  const emit = options.onWarning ?? emitLivestepWarning;
  const warnOnce = createWarnOnce(emit, redact);
  const warnRetrying = createThrottledWarning(emit, MLFLOW_RETRY_WARNING_INTERVAL_MS, redact);
  const onCut = (cut: Cut) =>
    warnOnce(
      `cut:${cut.what}:${cut.key}`,
      `livestep: MLflow ${cut.what} "${cut.key.slice(0, 80)}" is ${cut.length} characters; MLflow takes at most ${cut.limit}, so it was cut to that (the run folder keeps it whole)`,
    );

  const queue: MlflowEntity[] = [];
  let queuedEvents = 0;
  const sentParams = new Map<string, string>();
  let identity: RunIdentity | undefined;
  let start: StartEvent | undefined;
  let runId: string | undefined;
  let done: DoneEvent | undefined;
  let updated = false;

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

  /** Events not yet in MLflow: queued entities, the run's start, its end. */
  const pending = () => {
    if (disabled || givenUp) return 0;
    return (
      queuedEvents +
      (identity !== undefined && runId === undefined ? 1 : 0) +
      (done !== undefined && !updated ? 1 : 0)
    );
  };

  function discardQueue(): number {
    const count = queuedEvents + (identity !== undefined && runId === undefined ? 1 : 0);
    queue.length = 0;
    queuedEvents = 0;
    return count;
  }

  function disable(reason: DropReason, message: string, key: string): void {
    if (disabled) return;
    countFailed(reason, discardQueue() + (done !== undefined && !updated ? 1 : 0));
    disabled = true;
    disabledReason = reason;
    lastError = redact(message);
    warnOnce(key, message);
    stopData.abort();
  }

  function enqueue(entity: MlflowEntity): void {
    if (queue.length >= maxQueued) {
      countFailed('queue_overflow', entity.events);
      warnOnce(
        'overflow',
        `livestep: more than ${maxQueued} metric points and params are waiting for MLflow (${lastError ?? 'it is slow'}); newer ones are not sent to MLflow (the run folder has them)`,
      );
      return;
    }
    queue.push(entity);
    queuedEvents += entity.events;
  }

  function addParams(params: Record<string, unknown>): void {
    const fresh: Array<[string, string]> = [];
    for (const [name, text] of flattenParams(params)) {
      const key = mlflowKey(name, limits, onCut);
      const value = cutValue('param value', key, text, limits.maxParamValueLength, onCut);
      const sent = sentParams.get(key);
      if (sent === value) continue;
      if (sent !== undefined) {
        warnOnce(
          `param-changed:${key}`,
          `livestep: param "${key}" was logged again with a different value (${JSON.stringify(sent.slice(0, 60))} then ${JSON.stringify(value.slice(0, 60))}); MLflow params are write-once, so MLflow keeps the first value and the new one is not sent (the run folder's params have it)`,
        );
        continue;
      }
      sentParams.set(key, value);
      fresh.push([key, value]);
    }
    // The params event settles with its last param (an event of repeated values is settled now).
    for (const [index, [key, value]] of fresh.entries()) {
      enqueue({
        type: 'param',
        entity: { key, value },
        events: index === fresh.length - 1 ? 1 : 0,
      });
    }
  }

  function apply(batch: Batch): void {
    identity ??= batch.run;
    for (const event of batch.events) {
      if (event.kind === 'metric') {
        enqueue({ type: 'metric', entity: metricEntity(event, limits, onCut), events: 1 });
      } else if (event.kind === 'params') {
        addParams(event.params);
      } else if (event.kind === 'start') {
        start = event;
      } else if (event.kind === 'done') {
        done = event;
        if (event.error !== undefined) {
          const error = `${event.error.name ?? 'Error'}: ${event.error.message}`;
          enqueue({
            type: 'tag',
            entity: tagEntity('livestep.error', error, limits, onCut),
            events: 0,
          });
        }
      } else if (NOT_SENT_KINDS.has(event.kind)) {
        warnOnce(
          `not-sent:${event.kind}`,
          `livestep: the MLflow sink sends metrics, params and tags; ${event.kind} events are not sent to MLflow (the run folder has them)`,
        );
      }
    }
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
      startTime: start?.ts ?? Date.now(),
      tags: runTags(run, start, options.sourceName ?? process.argv[1], limits, onCut),
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

  async function loop(): Promise<void> {
    looping = true;
    try {
      while (!disabled && !stopData.signal.aborted) {
        if (identity === undefined) return;
        if (runId === undefined) {
          if (!(await createRun(identity))) return;
          continue;
        }
        const chunk = takeLogBatch(queue, runId, limits);
        if (chunk !== undefined) {
          const result = await deliverData({
            method: 'POST',
            path: 'runs/log-batch',
            body: chunk.json,
          });
          if (result.kind === 'stopped') return;
          queue.splice(0, chunk.count);
          queuedEvents -= chunk.events;
          if (result.kind === 'refused') countFailed('rejected', chunk.events);
          continue;
        }
        if (done !== undefined && !updated) await updateRun(stopData.signal, () => dataDeadline);
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
    if (runId === undefined || done === undefined || updated) {
      if (done !== undefined && !updated) countFailed('send_error', 1);
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
      apply(batch);
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
