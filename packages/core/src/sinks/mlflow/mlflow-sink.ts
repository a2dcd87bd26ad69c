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
 *   flush report (the run folder has it; `livestep sync <run folder> --to mlflow` sends the run
 *   again, as a new MLflow run).
 */

import { BackgroundPoster, type PosterWork, posterSink } from '../../delivery/background-poster.js';
import { emitLivestepWarning } from '../../delivery/livestep-warning.js';
import { DEFAULT_RETRY_POLICY } from '../../delivery/retry-policy.js';
import type { Sink } from '../../pipeline/sink.js';
import type { RunIdentity } from '../../protocol/events.js';
import { type MlflowConfig, resolveMlflowConfig } from './mlflow-config.js';
import { type Cut, MLFLOW_LIMITS, type MlflowLimits, runTags } from './mlflow-entities.js';
import { MlflowQueue, NOT_SENT_KINDS } from './mlflow-queue.js';
import {
  type MlflowAnswer,
  type MlflowCall,
  type MlflowTransport,
  requestMlflow,
} from './mlflow-request.js';
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

interface MlflowWorkOptions {
  poster: BackgroundPoster;
  transport: MlflowTransport;
  config: MlflowConfig;
  queue: MlflowQueue;
  limits: MlflowLimits;
  postIntervalMs: number;
  sourceName: string | undefined;
  onCut: (cut: Cut) => void;
}

/** The sink's work on the background poster: the run's start, log-batch requests, its end. */
class MlflowWork implements PosterWork {
  private runId: string | undefined;
  private updated = false;
  private lastPostAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: MlflowWorkOptions) {}

  private get queue(): MlflowQueue {
    return this.options.queue;
  }

  private started(): boolean {
    return this.queue.identity !== undefined;
  }

  /** MLflow was told the run ended: nothing more can go into it. */
  get told(): boolean {
    return this.updated;
  }

  /** The run ended and MLflow has not been told yet. */
  ending(): boolean {
    return this.queue.done !== undefined && !this.updated;
  }

  /** Events not yet in MLflow: queued entities, the run's start, its end. */
  pending(): number {
    const starting = this.started() && this.runId === undefined ? 1 : 0;
    return this.queue.events + starting + (this.ending() ? 1 : 0);
  }

  /** Empties the queue; returns its events and the start's, if the run was not created. */
  discard(): number {
    return this.queue.discard() + (this.started() && this.runId === undefined ? 1 : 0);
  }

  /** One call until MLflow answers it, refuses it for good, or delivery stops. */
  private async deliver(
    call: MlflowCall,
    bounds: { signal?: AbortSignal; deadline?: () => number } = {},
  ): Promise<CallResult> {
    const { poster, transport } = this.options;
    let answer: MlflowAnswer | undefined;
    const result = await poster.post(async (signal, timeoutMs) => {
      const judged = await requestMlflow(transport, call, signal, timeoutMs);
      answer = judged.answer;
      return judged.outcome;
    }, bounds);
    if (result.kind === 'delivered') {
      return answer === undefined ? { kind: 'stopped' } : { kind: 'answer', answer };
    }
    if (result.kind === 'stopped') return result;
    const { outcome } = result;
    if (outcome.stopsPosting) {
      poster.stopAfter(outcome);
      return { kind: 'stopped' };
    }
    poster.noteError(outcome.reason);
    poster.warnOnce(
      `refused:${call.path}:${outcome.status}`,
      `livestep: MLflow refused a ${call.path} request (${outcome.reason}); what it carried is counted as rejected and later requests go on`,
    );
    return { kind: 'refused', reason: outcome.reason };
  }

  private async createRun(run: RunIdentity): Promise<boolean> {
    const { config, limits, onCut, poster, sourceName } = this.options;
    const result = await startMlflowRun(
      (call) => this.deliver(call),
      config.experimentName ?? run.experiment,
      {
        name: run.name,
        startTime: this.queue.start?.ts ?? Date.now(),
        tags: runTags(run, this.queue.start, sourceName, limits, onCut),
      },
    );
    if (result.kind === 'stopped') return false;
    if (result.kind === 'failed') {
      poster.disable(
        'rejected',
        `livestep: the MLflow run could not be created: ${result.reason}`,
        'create',
      );
      return false;
    }
    this.runId = result.runId;
    return true;
  }

  private async updateRun(
    bounds: { signal?: AbortSignal; deadline?: () => number } = {},
  ): Promise<void> {
    const done = this.queue.done;
    if (this.runId === undefined || done === undefined || this.updated) return;
    const result = await this.deliver(
      {
        method: 'POST',
        path: 'runs/update',
        body: JSON.stringify({
          run_id: this.runId,
          status: MLFLOW_RUN_STATUS[done.status],
          end_time: Math.max(0, Math.round(done.ts)),
        }),
      },
      bounds,
    );
    if (result.kind === 'stopped') return;
    this.updated = true;
    if (result.kind === 'refused') this.options.poster.countFailed('rejected', 1);
  }

  async next(): Promise<boolean> {
    const { poster, limits, postIntervalMs } = this.options;
    const run = this.queue.identity;
    if (run === undefined) return false;
    if (this.runId === undefined) return this.createRun(run);
    const chunk = this.queue.take(this.runId);
    if (chunk === undefined) {
      if (this.ending()) await this.updateRun();
      return false;
    }
    // A request that is not full waits out the post interval, gathering more points (a slow
    // loop must not cost one request per batch); a full one, a flush or the end go now.
    const full = chunk.count < this.queue.length || chunk.count >= limits.maxEntities;
    const wait = this.lastPostAt + postIntervalMs - Date.now();
    if (!full && wait > 0 && !poster.hurried && !this.ending()) {
      await poster.pause(wait);
      return true;
    }
    this.lastPostAt = Date.now();
    const result = await this.deliver({ method: 'POST', path: 'runs/log-batch', body: chunk.json });
    if (result.kind === 'stopped') return false;
    this.queue.settle(chunk);
    if (result.kind === 'refused') poster.countFailed('rejected', chunk.events);
    return true;
  }

  async finishLate(signal: AbortSignal, deadline: number): Promise<void> {
    const { poster } = this.options;
    if (!this.ending()) return;
    if (this.runId === undefined) {
      poster.countFailed('send_error', 1);
      return;
    }
    await this.updateRun({ signal, deadline: () => deadline });
    if (!this.updated && !poster.disabled) {
      poster.countFailed('send_error', 1);
      poster.warnOnce(
        'update_not_delivered',
        `livestep: MLflow did not take the end of the run (${poster.lastError ?? 'no answer before the deadline'}); it may show the run as RUNNING`,
      );
    }
  }
}

/**
 * A sink that records the run into MLflow. Reads what the options leave out from the environment
 * (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN or _USERNAME/_PASSWORD, MLFLOW_EXPERIMENT_NAME);
 * throws a clear error when the URI is missing or cannot be used.
 */
export function createMlflowSink(options: MlflowSinkOptions = {}): Sink {
  const config = resolveMlflowConfig(options);
  const limits: MlflowLimits = { ...MLFLOW_LIMITS, ...options.limits };
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
  const poster = new BackgroundPoster(
    {
      tracker: 'MLflow',
      policy: { ...DEFAULT_RETRY_POLICY, ...options.retryPolicy },
      redact: config.redact,
      warn: options.onWarning ?? emitLivestepWarning,
      retryWarningIntervalMs: MLFLOW_RETRY_WARNING_INTERVAL_MS,
      closeReserveMs: MLFLOW_UPDATE_RESERVE_MS,
      leftAtClose: (left, lastError) =>
        `livestep: the run ended before MLflow took ${left} events (last error: ${lastError}); they are not in MLflow, but the run folder has every one: \`livestep sync <run folder> --to mlflow\` sends the whole run again, as a new MLflow run`,
    },
    requestTimeoutMs,
  );
  const onCut = (cut: Cut) =>
    poster.warnOnce(
      `cut:${cut.what}:${cut.key}`,
      `livestep: MLflow ${cut.what} "${cut.key.slice(0, 80)}" is ${cut.length} characters; MLflow takes at most ${cut.limit}, so it was cut to that (the run folder keeps it whole)`,
    );
  const queue = new MlflowQueue({
    limits,
    maxQueued,
    onCut,
    warnOnce: poster.warnOnce,
    countFailed: (reason, count) => poster.countFailed(reason, count),
    lastError: () => poster.lastError,
  });
  const work = new MlflowWork({
    poster,
    transport: { config, fetch: options.fetch, timeoutMs: requestTimeoutMs },
    config,
    queue,
    limits,
    postIntervalMs,
    sourceName: options.sourceName ?? process.argv[1],
    onCut,
  });
  poster.attach(work);

  return posterSink(`mlflow:${config.origin}`, poster, (batch) => {
    const count = countSent(batch.events);
    if (!poster.accepts(count)) return;
    if (work.told) {
      poster.countFailed('logged_after_end', count);
      return;
    }
    queue.apply(batch);
    poster.kick();
  });
}

function countSent(events: ReadonlyArray<{ kind: string }>): number {
  return events.filter((event) => !NOT_SENT_KINDS.has(event.kind)).length;
}
