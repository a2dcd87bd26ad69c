/**
 * GET /api/v1/stream (every run) and GET /api/v1/runs/{id}/stream (one run): Server-Sent
 * Events from the live hub. `Last-Event-ID` (sent by EventSource when it reconnects, or the
 * `lastEventId` query parameter) resumes after that frame.
 */
import type { FastifyInstance } from 'fastify';
import { type Query, runId, text } from '../query/query-parameters.js';
import type { LiveHub } from './live-hub.js';

export function registerStreamRoutes(app: FastifyInstance, hub: LiveHub): void {
  const lastEventId = (headers: Record<string, unknown>, query: Query) => {
    const header = headers['last-event-id'];
    return typeof header === 'string' ? header : text(query, 'lastEventId');
  };
  app.get('/api/v1/stream', async (request, reply) => {
    const resumeAfter = lastEventId(request.headers, request.query as Query);
    reply.hijack();
    hub.subscribe(reply.raw, undefined, resumeAfter);
  });
  app.get('/api/v1/runs/:id/stream', async (request, reply) => {
    const id = runId((request.params as Query).id);
    const resumeAfter = lastEventId(request.headers, request.query as Query);
    reply.hijack();
    hub.subscribe(reply.raw, id, resumeAfter);
  });
}
