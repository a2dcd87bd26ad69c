/**
 * Cutting the queue of entities into `runs/log-batch` requests within MLflow's limits (1000
 * metrics, 100 params, 100 tags, 1000 entities and 1,000,000 bytes a request; backends.md D.2).
 * Entities are taken strictly in the order they were logged: a request ends at the first entity
 * that would break a limit, and the next request starts with it.
 */
import {
  MLFLOW_LIMITS,
  type MlflowEntity,
  type MlflowKeyValue,
  type MlflowLimits,
  type MlflowMetric,
} from './mlflow-entities.js';

/** What separates and ends the lists after the metrics. */
const CLOSING = '],"params":[],"tags":[]}';

/** The body as MLflow's LogBatch message has it (what `json` holds). */
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

/**
 * The next request from the front of `queue` (undefined when it is empty). Never empty when the
 * queue is not: one entity always fits (keys and values are cut to MLflow's lengths first).
 * Entities are serialized here, in the background, never in the logging call (a request that is
 * not full and waits out the post interval is built again when it goes).
 */
export function takeLogBatch(
  queue: readonly MlflowEntity[],
  runId: string,
  limits: MlflowLimits = MLFLOW_LIMITS,
): LogBatchChunk | undefined {
  if (queue.length === 0) return undefined;
  const parts: Record<MlflowEntity['type'], string[]> = { metric: [], param: [], tag: [] };
  const most: Record<MlflowEntity['type'], number> = {
    metric: limits.maxMetrics,
    param: limits.maxParams,
    tag: limits.maxTags,
  };
  const opening = `{"run_id":${JSON.stringify(runId)},"metrics":[`;
  let bytes = Buffer.byteLength(opening) + Buffer.byteLength(CLOSING);
  let events = 0;
  let count = 0;
  for (const item of queue) {
    if (count >= limits.maxEntities) break;
    const list = parts[item.type];
    if (list.length >= most[item.type]) break;
    const text = JSON.stringify(item.entity);
    // A comma before every entity but the first of its list.
    const size = Buffer.byteLength(text) + (list.length > 0 ? 1 : 0);
    if (count > 0 && bytes + size > limits.maxRequestBytes) break;
    list.push(text);
    bytes += size;
    events += item.events;
    count++;
  }
  const json = `${opening}${parts.metric.join(',')}],"params":[${parts.param.join(',')}],"tags":[${parts.tag.join(',')}]}`;
  return { count, json, events };
}
