/**
 * POST /api/v1/batches: what @livestep/core's HTTP sink sends. Validated against core's
 * protocol v1 schema (a 400 that names the field, and nothing stored), stored idempotently by
 * event id, and answered 200 only after the commit:
 * `{"stored": n, "duplicates": m, "capabilities": ["metric-columns"], "maxBatchEvents": k}`.
 * The capability tells a
 * sink that this server takes metric points in columns (`metrics` blocks); a sink that has not
 * seen it sends event objects only, so an older server never receives a form it does not know.
 * 413 for a body or a batch over the limits (the sink halves and retries), 429 with
 * Retry-After when the write queue is full, 503 with Retry-After when too many bodies are being
 * read at once.
 */

import type { MetricColumns, RunEvent } from '@livestep/core/protocol';
import { METRIC_COLUMNS_CAPABILITY, METRIC_COLUMNS_KIND } from '@livestep/core/protocol';
import type { FastifyInstance } from 'fastify';
import { HttpError, sendError } from '../http/http-error.js';
import { checkBatch } from './check-batch.js';
import { type IngestAdmission, RETRY_AFTER_SECONDS } from './ingest-admission.js';
import type { IngestQueue } from './ingest-queue.js';

export const BATCHES_PATH = '/api/v1/batches';

/** What this server takes beyond plain protocol v1 events, told in every acknowledgement. */
export const INGEST_CAPABILITIES: readonly string[] = [METRIC_COLUMNS_CAPABILITY];

/**
 * Events in a body as the batch limit counts them: a `metrics` block counts its points, so
 * columns cannot carry more points a request than objects can.
 */
function countEvents(events: unknown[]): number {
  let count = 0;
  for (const event of events) {
    const values =
      (event as { kind?: unknown } | null)?.kind === METRIC_COLUMNS_KIND
        ? (event as { values?: unknown }).values
        : undefined;
    count += Array.isArray(values) ? Math.max(1, values.length) : 1;
  }
  return count;
}

export interface BatchesRouteContext {
  queue: IngestQueue;
  admission: IngestAdmission;
  maxBatchEvents: number;
}

export function registerBatchesRoute(app: FastifyInstance, context: BatchesRouteContext): void {
  app.post(
    BATCHES_PATH,
    {
      onRequest: context.admission.admit,
      onResponse: context.admission.release,
      onRequestAbort: context.admission.release,
    },
    async (request, reply) => {
      const body = request.body as { events?: unknown } | undefined;
      const eventCount = Array.isArray(body?.events) ? countEvents(body.events) : 0;
      if (eventCount > context.maxBatchEvents) {
        return sendError(
          reply,
          new HttpError(
            413,
            'batch_too_long',
            `events: ${eventCount} events in one batch; this server takes at most ${context.maxBatchEvents} (the livestep HTTP sink halves a batch on 413)`,
            [{ path: 'events', message: `at most ${context.maxBatchEvents} events` }],
          ),
        );
      }
      const result = checkBatch(body);
      if (!result.ok) {
        return sendError(
          reply,
          new HttpError(
            400,
            'invalid_batch',
            `invalid batch: ${result.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
            result.issues,
          ),
        );
      }
      // Blocks of columns are stored beside the event objects (points do not depend on order).
      let events = result.batch.events as RunEvent[];
      let metricColumns: MetricColumns[] | undefined;
      if (result.batch.events.some((event) => event.kind === METRIC_COLUMNS_KIND)) {
        events = [];
        metricColumns = [];
        for (const event of result.batch.events) {
          if (event.kind === METRIC_COLUMNS_KIND) metricColumns.push(event);
          else events.push(event);
        }
      }
      const committed = context.queue.submit({
        run: result.batch.run,
        events,
        source: 'protocol',
        ...(metricColumns === undefined ? {} : { metricColumns }),
      });
      if (committed === undefined) {
        return sendError(
          reply,
          new HttpError(
            429,
            'ingest_backlog',
            `the server has ${context.queue.pendingEvents} events waiting to be written; retry after the Retry-After delay`,
            undefined,
            { 'retry-after': String(RETRY_AFTER_SECONDS) },
          ),
        );
      }
      const outcome = await committed;
      return reply.code(200).send({
        stored: outcome.stored,
        duplicates: outcome.duplicates,
        capabilities: INGEST_CAPABILITIES,
        // So a sink sizes its requests to this server instead of finding the limit by 413s.
        maxBatchEvents: context.maxBatchEvents,
      });
    },
  );
}
