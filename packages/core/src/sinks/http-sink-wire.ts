/**
 * What the HTTP sink puts on the wire and what it takes for an acknowledgement:
 *
 * - a request body: protocol v1 JSON, metric points as columns for a server that takes them
 *   (consecutive runs of MIN_COLUMN_POINTS or more), gzipped past GZIP_THRESHOLD_BYTES;
 * - an acknowledgement: a 2xx whose body arrived complete and is a JSON object (a livestep server
 *   answers `{"stored": n, "duplicates": m}`, with its capabilities and `maxBatchEvents`), or a
 *   204 (no body by definition). Anything else (a body cut off, an empty 200, a proxy's HTML page)
 *   is not one: the server may not have stored the batch.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { MAX_ANSWER_BYTES, type PostResult } from '../delivery/post-request.js';
import type { Batch, MetricColumns, MetricEvent, RunEvent } from '../protocol/events.js';
import { PROTOCOL_VERSION } from '../protocol/events.js';
import { encodeMetricColumns, METRIC_COLUMNS_CAPABILITY } from '../protocol/metric-columns.js';
import { GZIP_THRESHOLD_BYTES } from './http-sink-options.js';

const gzipAsync = promisify(gzip);

/**
 * zlib's fastest level: on a 20,000-point columns body (545 KB) it takes 0.39 µs a point here
 * against 1.15 µs at the default level 6, for a body 4% larger (34% of the JSON against 32%).
 * Measured numbers compress little more at any level, and at level 6 gzip was the sink's
 * largest single cost, on the same 2 cores as the training loop.
 */
const GZIP_LEVEL = 1;

/**
 * Consecutive metric events below this many go as objects: a block's tables cost more than they
 * save on a handful of points.
 */
const MIN_COLUMN_POINTS = 8;

/**
 * The events as they go to a server that takes metric columns: each run of consecutive metric
 * events (MIN_COLUMN_POINTS or more) as one block, the rest as objects. Undefined when nothing
 * would go as columns.
 */
export function withMetricColumns(events: RunEvent[]): Array<RunEvent | MetricColumns> | undefined {
  let wire: Array<RunEvent | MetricColumns> | undefined;
  let start = 0;
  for (let index = 0; index <= events.length; index++) {
    if (index < events.length && events[index]!.kind === 'metric') continue;
    if (index - start >= MIN_COLUMN_POINTS) {
      const run = events.slice(start, index) as MetricEvent[];
      const columns = encodeMetricColumns(run);
      wire ??= events.slice(0, start);
      if (columns === undefined) wire.push(...run);
      else wire.push(columns);
    } else if (wire !== undefined) {
      for (let from = start; from < index; from++) wire.push(events[from]!);
    }
    if (index < events.length) wire?.push(events[index]!);
    start = index + 1;
  }
  return wire;
}

export interface RequestBody {
  body: string | Buffer;
  /** True when the body is gzipped (`content-encoding: gzip`). */
  gzipped: boolean;
  /** True when some metric points went as columns. */
  columns: boolean;
}

/** A batch as one request body; `asColumns`: metric points may go as columns. */
export async function encodeRequestBody(batch: Batch, asColumns: boolean): Promise<RequestBody> {
  const columnEvents = asColumns ? withMetricColumns(batch.events) : undefined;
  const json = JSON.stringify({
    protocol: PROTOCOL_VERSION,
    run: batch.run,
    events: columnEvents ?? batch.events,
  });
  const columns = columnEvents !== undefined;
  if (Buffer.byteLength(json) > GZIP_THRESHOLD_BYTES) {
    return { body: await gzipAsync(json, { level: GZIP_LEVEL }), gzipped: true, columns };
  }
  return { body: json, gzipped: false, columns };
}

/**
 * What a 2xx answer says: `problem`, what is wrong with it as an acknowledgement (to be quoted);
 * else what it tells of the server: whether it takes metric columns, and the most events a
 * request may hold (absent: unchanged, as after a 204).
 */
export type Acknowledgement =
  | { problem: string }
  | { problem?: undefined; takesColumns: boolean; maxBatchEvents?: number };

export function readAcknowledgement(
  answer: Extract<PostResult, { answered: true }>,
  quote: (body: Buffer) => string,
): Acknowledgement {
  // No body, no capabilities: a receiver that is not (or not only) a livestep server.
  if (answer.status === 204) return { takesColumns: false };
  if (answer.truncated) return { problem: `its body is longer than ${MAX_ANSWER_BYTES} bytes` };
  if (!answer.complete) return { problem: 'its body was cut off before its end' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body.toString('utf8'));
  } catch {
    const quoted = quote(answer.body);
    return { problem: `its body is not JSON (${quoted ? JSON.stringify(quoted) : 'empty'})` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { problem: 'its body is not a JSON object' };
  }
  // Learnt from every acknowledgement, so a server replaced by an older one gets objects again.
  const capabilities = (parsed as { capabilities?: unknown }).capabilities;
  const limit = (parsed as { maxBatchEvents?: unknown }).maxBatchEvents;
  return {
    takesColumns: Array.isArray(capabilities) && capabilities.includes(METRIC_COLUMNS_CAPABILITY),
    maxBatchEvents:
      typeof limit === 'number' && Number.isInteger(limit) && limit > 0
        ? limit
        : Number.POSITIVE_INFINITY,
  };
}
