/**
 * What waits for MLflow: the run's batches turned into MLflow entities (mlflow-entities.ts), in
 * the order they were logged, with the livestep events each settles. Params are written once:
 * a key already queued with the same value is not queued again; with a different value it cannot
 * be changed in MLflow (params are write-once), so it is warned about and not queued.
 */
import type { DropReason } from '../../pipeline/sink.js';
import type { Batch, DoneEvent, RunIdentity, StartEvent } from '../../protocol/events.js';
import {
  type Cut,
  cutValue,
  flattenParams,
  type MlflowEntity,
  type MlflowLimits,
  metricEntity,
  mlflowKey,
  tagEntity,
} from './mlflow-entities.js';
import { type LogBatchChunk, takeLogBatch } from './mlflow-log-batch.js';

/** Event kinds the MLflow sink does not send (they are in the run folder). */
export const NOT_SENT_KINDS: ReadonlySet<string> = new Set([
  'plot',
  'image',
  'artifact',
  'annotation',
]);

export interface MlflowQueueHooks {
  limits: MlflowLimits;
  /** Entities held at most; past it new ones are counted as `queue_overflow`. */
  maxQueued: number;
  onCut: (cut: Cut) => void;
  warnOnce: (key: string, message: string) => void;
  countFailed: (reason: DropReason, count: number) => void;
  /** The sink's last error, for the overflow warning. */
  lastError: () => string | undefined;
}

export class MlflowQueue {
  /** The run, from its first batch. */
  identity: RunIdentity | undefined;
  start: StartEvent | undefined;
  done: DoneEvent | undefined;
  private readonly entities: MlflowEntity[] = [];
  /** Livestep events the queued entities settle when delivered. */
  private queuedEvents = 0;
  private readonly sentParams = new Map<string, string>();

  constructor(private readonly hooks: MlflowQueueHooks) {}

  get events(): number {
    return this.queuedEvents;
  }

  get length(): number {
    return this.entities.length;
  }

  apply(batch: Batch): void {
    const { limits, onCut, warnOnce } = this.hooks;
    this.identity ??= batch.run;
    for (const event of batch.events) {
      if (event.kind === 'metric') {
        this.push({ type: 'metric', entity: metricEntity(event, limits, onCut), events: 1 });
      } else if (event.kind === 'params') {
        this.addParams(event.params);
      } else if (event.kind === 'start') {
        this.start = event;
      } else if (event.kind === 'done') {
        this.done = event;
        if (event.error !== undefined) {
          const error = `${event.error.name ?? 'Error'}: ${event.error.message}`;
          const entity = tagEntity('livestep.error', error, limits, onCut);
          this.push({ type: 'tag', entity, events: 0 });
        }
      } else if (NOT_SENT_KINDS.has(event.kind)) {
        warnOnce(
          `not-sent:${event.kind}`,
          `livestep: the MLflow sink sends metrics, params and tags; ${event.kind} events are not sent to MLflow (the run folder has them)`,
        );
      }
    }
  }

  /** The next log-batch request from the front (see takeLogBatch). */
  take(runId: string): LogBatchChunk | undefined {
    return takeLogBatch(this.entities, runId, this.hooks.limits);
  }

  /** Removes a request's entities once MLflow answered it. */
  settle(chunk: LogBatchChunk): void {
    this.entities.splice(0, chunk.count);
    this.queuedEvents -= chunk.events;
  }

  /** Empties the queue; returns the events it held. */
  discard(): number {
    const events = this.queuedEvents;
    this.entities.length = 0;
    this.queuedEvents = 0;
    return events;
  }

  /** Queues one entity; false when the queue is full (the entity is counted as failed). */
  private push(entity: MlflowEntity): boolean {
    const { maxQueued } = this.hooks;
    if (this.entities.length >= maxQueued) {
      this.hooks.countFailed('queue_overflow', entity.events);
      this.hooks.warnOnce(
        'overflow',
        `livestep: more than ${maxQueued} metric points and params are waiting for MLflow (${this.hooks.lastError() ?? 'it is slow'}); newer ones are not sent to MLflow (the run folder has them)`,
      );
      return false;
    }
    this.entities.push(entity);
    this.queuedEvents += entity.events;
    return true;
  }

  private addParams(params: Record<string, unknown>): void {
    const { limits, onCut } = this.hooks;
    const fresh: Array<[string, string]> = [];
    for (const [name, text] of flattenParams(params)) {
      const key = mlflowKey(name, limits, onCut);
      const value = cutValue('param value', key, text, limits.maxParamValueLength, onCut);
      const sent = this.sentParams.get(key);
      if (sent === value) continue;
      if (sent !== undefined) {
        this.hooks.warnOnce(
          `param-changed:${key}`,
          `livestep: param "${key}" was logged again with a different value (${JSON.stringify(sent.slice(0, 60))} then ${JSON.stringify(value.slice(0, 60))}); MLflow params are write-once, so MLflow keeps the first value and the new one is not sent (the run folder's params have it)`,
        );
        continue;
      }
      fresh.push([key, value]);
    }
    // The params event settles with its last param (an event of repeated values is settled now).
    // A param counts as written once it is queued: a param the full queue refused was never
    // written, so a later value of it is sent rather than refused as a change.
    for (const [index, [key, value]] of fresh.entries()) {
      const events = index === fresh.length - 1 ? 1 : 0;
      if (this.push({ type: 'param', entity: { key, value }, events })) {
        this.sentParams.set(key, value);
      }
    }
  }
}
