/**
 * Cutting the queue of entities into `runs/log-batch` requests within MLflow's limits (1000
 * metrics, 100 params, 100 tags, 1000 entities and 1,000,000 bytes a request; backends.md D.2).
 * Entities are taken strictly in the order they were logged: a request ends at the first entity
 * that would break a limit, and the next request starts with it.
 */
import {
  entityBytes,
  MLFLOW_LIMITS,
  type MlflowEntity,
  type MlflowKeyValue,
  type MlflowLimits,
  type MlflowMetric,
} from './mlflow-entities.js';

export interface LogBatchBody {
  run_id: string;
  metrics: MlflowMetric[];
  params: MlflowKeyValue[];
  tags: MlflowKeyValue[];
}

export interface LogBatchChunk {
  /** How many entities from the front of the queue it holds. */
  count: number;
  /** The request body, as JSON. */
  json: string;
  /** Livestep events settled when it is delivered. */
  events: number;
}

/** The body's fixed part: keys, brackets, the run id. */
function overheadBytes(runId: string): number {
  return Buffer.byteLength(JSON.stringify({ run_id: runId, metrics: [], params: [], tags: [] }));
}

/** The entity's size in the body, computed once. */
export function sizedEntity<T extends Omit<MlflowEntity, 'bytes'>>(
  entity: T,
): T & { bytes: number } {
  return { ...entity, bytes: entityBytes(entity.entity) };
}

/**
 * The next request from the front of `queue` (undefined when it is empty). Never empty when the
 * queue is not: one entity always fits (keys and values are cut to MLflow's lengths first).
 */
export function takeLogBatch(
  queue: readonly MlflowEntity[],
  runId: string,
  limits: MlflowLimits = MLFLOW_LIMITS,
): LogBatchChunk | undefined {
  if (queue.length === 0) return undefined;
  const body: LogBatchBody = { run_id: runId, metrics: [], params: [], tags: [] };
  let bytes = overheadBytes(runId);
  let events = 0;
  let count = 0;
  for (const item of queue) {
    if (count >= limits.maxEntities) break;
    if (count > 0 && bytes + item.bytes > limits.maxRequestBytes) break;
    if (item.type === 'metric') {
      if (body.metrics.length >= limits.maxMetrics) break;
      body.metrics.push(item.entity);
    } else if (item.type === 'param') {
      if (body.params.length >= limits.maxParams) break;
      body.params.push(item.entity);
    } else {
      if (body.tags.length >= limits.maxTags) break;
      body.tags.push(item.entity);
    }
    bytes += item.bytes;
    events += item.events;
    count++;
  }
  return { count, json: JSON.stringify(body), events };
}
