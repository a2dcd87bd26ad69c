/**
 * POST /api/live: DVC Studio's live protocol, so Python DVCLive (and dvc-studio-client) stream
 * here with DVC_STUDIO_URL=<this server> and DVC_STUDIO_TOKEN=<its token, or anything when it
 * has none>. The body is checked against Studio's schema (@livestep/studio's validator, made for
 * receivers like this one), mapped onto the run model, committed, and only then answered 200:
 * that client counts nothing else as delivered. A 400 names the field.
 */
import { validateStudioBody } from '@livestep/studio';
import type { FastifyInstance } from 'fastify';
import { HttpError, sendError } from '../http/http-error.js';
import type { BatchesRouteContext } from './batches-route.js';
import { RETRY_AFTER_SECONDS } from './ingest-admission.js';
import { studioBodyToBatch } from './studio-body-to-batch.js';

export const STUDIO_LIVE_PATH = '/api/live';

export function registerStudioLiveRoute(app: FastifyInstance, context: BatchesRouteContext): void {
  app.post(
    STUDIO_LIVE_PATH,
    {
      onRequest: context.admission.admit,
      onResponse: context.admission.release,
      onRequestAbort: context.admission.release,
    },
    async (request, reply) => {
      const issues = validateStudioBody(request.body);
      const conversion =
        issues.length === 0
          ? studioBodyToBatch(request.body as Record<string, unknown>, Date.now())
          : { issues };
      if (conversion.batch === undefined) {
        return sendError(
          reply,
          new HttpError(
            400,
            'invalid_studio_body',
            `invalid api/live body: ${conversion.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
            conversion.issues,
          ),
        );
      }
      if (conversion.batch.events.length > context.maxBatchEvents) {
        return sendError(
          reply,
          new HttpError(
            413,
            'batch_too_long',
            `the body holds ${conversion.batch.events.length} events; this server takes at most ${context.maxBatchEvents} a request`,
          ),
        );
      }
      const committed = context.queue.submit(conversion.batch);
      if (committed === undefined) {
        return sendError(
          reply,
          new HttpError(
            429,
            'ingest_backlog',
            'the server is busy writing; retry after the Retry-After delay',
            undefined,
            {
              'retry-after': String(RETRY_AFTER_SECONDS),
            },
          ),
        );
      }
      const outcome = await committed;
      return reply
        .code(200)
        .send({ ok: true, stored: outcome.stored, duplicates: outcome.duplicates });
    },
  );
}
