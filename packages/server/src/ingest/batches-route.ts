/**
 * POST /api/v1/batches: what @livestep/core's HTTP sink sends. Validated against core's
 * protocol v1 schema (a 400 that names the field, and nothing stored), stored idempotently by
 * event id, and answered 200 only after the commit: `{"stored": n, "duplicates": m}`.
 * 413 for a body or a batch over the limits (the sink halves and retries), 429 with
 * Retry-After when the write queue is full, 503 with Retry-After when too many bodies are being
 * read at once.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError, sendError } from '../http/http-error.js';
import { checkBatch } from './check-batch.js';
import { type IngestAdmission, RETRY_AFTER_SECONDS } from './ingest-admission.js';
import type { IngestQueue } from './ingest-queue.js';

export const BATCHES_PATH = '/api/v1/batches';

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
      if (Array.isArray(body?.events) && body.events.length > context.maxBatchEvents) {
        return sendError(
          reply,
          new HttpError(
            413,
            'batch_too_long',
            `events: ${body.events.length} events in one batch; this server takes at most ${context.maxBatchEvents} (the livestep HTTP sink halves a batch on 413)`,
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
      const committed = context.queue.submit({
        run: result.batch.run,
        events: result.batch.events,
        source: 'protocol',
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
      return reply.code(200).send({ stored: outcome.stored, duplicates: outcome.duplicates });
    },
  );
}
