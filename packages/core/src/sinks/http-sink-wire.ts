/**
 * What the HTTP sink puts on the wire and what it takes for an acknowledgement:
 *
 * - a request body: protocol v1 JSON, metric points as columns for a server that takes them
 *   (consecutive runs of 8 or more, see withMetricColumns), gzipped past GZIP_THRESHOLD_BYTES;
 *   from the spool, the spooled lines' own text (nothing parsed again);
 * - an acknowledgement: a 2xx whose body arrived complete and is a JSON object (a livestep server
 *   answers `{"stored": n, "duplicates": m}`, with its capabilities and `maxBatchEvents`), or a
 *   204 (no body by definition). Anything else (a body cut off, an empty 200, a proxy's HTML page)
 *   is not one: the server may not have stored the batch.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { MAX_ANSWER_BYTES, type PostResult } from '../delivery/post-request.js';
import type { SpoolWireChunk } from '../delivery/spool.js';
import type { Batch, RunEvent, RunIdentity } from '../protocol/events.js';
import { PROTOCOL_VERSION } from '../protocol/events.js';
import { METRIC_COLUMNS_CAPABILITY, withMetricColumns } from '../protocol/metric-columns.js';
import { GZIP_THRESHOLD_BYTES } from './http-sink-options.js';

const gzipAsync = promisify(gzip);

/**
 * zlib's fastest level: on a 20,000-point columns body (545 KB) it takes 0.39 µs a point here
 * against 1.15 µs at the default level 6, for a body 4% larger (34% of the JSON against 32%).
 * Measured numbers compress little more at any level, and at level 6 gzip was the sink's
 * largest single cost, on the same 2 cores as the training loop.
 */
const GZIP_LEVEL = 1;

export interface RequestBody {
  body: string | Buffer;
  /** True when the body is gzipped (`content-encoding: gzip`). */
  gzipped: boolean;
  /** True when some metric points went as columns. */
  columns: boolean;
}

/**
 * A batch as one request body; `asColumns`: metric points may go as columns; `compress`: gzip it
 * past GZIP_THRESHOLD_BYTES.
 */
export async function encodeRequestBody(
  batch: Batch,
  asColumns: boolean,
  compress = true,
): Promise<RequestBody> {
  const columnEvents = asColumns ? withMetricColumns(batch.events) : undefined;
  const json = JSON.stringify({
    protocol: PROTOCOL_VERSION,
    run: batch.run,
    events: columnEvents ?? batch.events,
  });
  return finishBody(json, columnEvents !== undefined, compress);
}

/**
 * Spooled lines as one request body, their text used as it is (see spool.ts): for a server that
 * takes metric columns, or lines that hold none.
 */
export function encodeSpooledBody(
  run: RunIdentity,
  chunk: SpoolWireChunk,
  compress = true,
): Promise<RequestBody> {
  const json = `{"protocol":${PROTOCOL_VERSION},"run":${JSON.stringify(run)},"events":[${chunk.wire}]}`;
  return finishBody(json, chunk.columns, compress);
}

/**
 * A spooled chunk as a batch whose events are parsed only when something asks for them (a server
 * that takes objects, a refusal to split or to keep): a replay that goes as it was spooled parses
 * nothing.
 */
export function spooledBatch(run: RunIdentity, chunk: SpoolWireChunk): Batch {
  let events: RunEvent[] | undefined;
  return {
    protocol: PROTOCOL_VERSION,
    run,
    get events() {
      events ??= chunk.decode();
      return events;
    },
    set events(replaced) {
      events = replaced;
    },
  };
}

async function finishBody(json: string, columns: boolean, compress: boolean): Promise<RequestBody> {
  if (compress && Buffer.byteLength(json) > GZIP_THRESHOLD_BYTES) {
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
