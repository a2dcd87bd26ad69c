/**
 * The composition root: one Fastify app, the store, the write queue, the live hub and the
 * routes, listening on 127.0.0.1 unless told otherwise (another address needs a token).
 *
 *   import { createServer } from '@livestep/server';
 *   const server = await createServer({ port: 0, dataDirectory: './runs' });
 *   console.log(server.url); // LIVESTEP_URL for the HTTP sink
 *   await server.close();    // stops accepting, commits what it acknowledged, ends streams
 */
import { resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { isLoopbackHost, registerTokenAuth } from './auth/token-auth.js';
import { registerDashboardRoutes } from './dashboard/dashboard-routes.js';
import { registerCors } from './http/cors.js';
import { HttpError, handleError, sendError } from './http/http-error.js';
import { stringifyReply } from './http/json-reply.js';
import { registerBatchesRoute } from './ingest/batches-route.js';
import { IngestAdmission } from './ingest/ingest-admission.js';
import { IngestQueue } from './ingest/ingest-queue.js';
import { registerJsonBodyParser } from './ingest/json-body-parser.js';
import { registerStudioLiveRoute } from './ingest/studio-live-route.js';
import { LiveHub } from './live/live-hub.js';
import { registerStreamRoutes } from './live/stream-routes.js';
import { registerCompareRoutes } from './query/compare-routes.js';
import { openApiDocument } from './query/openapi-document.js';
import { registerRunsRoutes } from './query/runs-routes.js';
import {
  DEFAULT_DATA_DIRECTORY,
  DEFAULT_HOST,
  DEFAULT_LIVENESS_SWEEP_MS,
  DEFAULT_MAX_BATCH_EVENTS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_EVENTS_PER_COMMIT,
  DEFAULT_MAX_IN_FLIGHT_BODY_BYTES,
  DEFAULT_MAX_QUEUED_EVENTS,
  DEFAULT_PORT,
  type ServerLimits,
  type ServerOptions,
} from './server-options.js';
import type { RunStore } from './storage/run-store.js';
import { DEFAULT_LIVENESS, SqliteRunStore } from './storage/sqlite/sqlite-run-store.js';

/** Requests still running at close get this long to finish before their connections are cut. */
const CLOSE_GRACE_MS = 10_000;

export interface LivestepServer {
  /** `http://127.0.0.1:<port>`: the base URL clients use (LIVESTEP_URL, DVC_STUDIO_URL). */
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly store: RunStore;
  readonly hub: LiveHub;
  /** Stops accepting, answers what is in flight, commits what it acknowledged, ends streams. */
  close(): Promise<void>;
}

/** Where the embedded store lives when no folder is given. */
export function resolveDataDirectory(
  directory: string | undefined,
  environment: NodeJS.ProcessEnv = process.env,
): string {
  return resolve(directory ?? (environment.LIVESTEP_SERVER_DATA || DEFAULT_DATA_DIRECTORY));
}

export async function createServer(options: ServerOptions = {}): Promise<LivestepServer> {
  const host = options.host ?? DEFAULT_HOST;
  const token = options.token === '' ? undefined : options.token;
  if (!isLoopbackHost(host) && token === undefined) {
    throw new Error(
      `livestep server: refusing to listen on ${host} without a token: anyone who can reach it could read and write runs. Pass --token <secret> (or LIVESTEP_SERVER_TOKEN), or listen on 127.0.0.1`,
    );
  }
  const limits: ServerLimits = {
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    maxBatchEvents: DEFAULT_MAX_BATCH_EVENTS,
    maxQueuedEvents: DEFAULT_MAX_QUEUED_EVENTS,
    maxEventsPerCommit: DEFAULT_MAX_EVENTS_PER_COMMIT,
    maxInFlightBodyBytes: DEFAULT_MAX_IN_FLIGHT_BODY_BYTES,
    ...options.limits,
  };
  const store: RunStore =
    options.store ??
    new SqliteRunStore({
      directory: resolveDataDirectory(options.dataDirectory),
      ...(options.synchronous && { synchronous: options.synchronous }),
      ...(options.liveness && { liveness: options.liveness }),
    });

  const app = Fastify({
    logger: options.logger ? { redact: ['req.headers.authorization'], level: 'info' } : false,
    bodyLimit: limits.maxBodyBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  app.setReplySerializer(stringifyReply);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new HttpError(
        404,
        'not_found',
        `no such endpoint: ${request.method} ${request.url.split('?')[0]}; the API is described at /api/v1/openapi.json`,
      ),
    ),
  );
  registerJsonBodyParser(app, limits.maxBodyBytes);
  // CORS first: a preflight carries no token.
  if (options.corsOrigins !== undefined && options.corsOrigins.length > 0) {
    registerCors(app, options.corsOrigins);
  }
  if (token !== undefined) registerTokenAuth(app, token, options.maxFailedTokenAttempts);

  const queue = new IngestQueue(store, limits);
  const admission = new IngestAdmission(limits.maxInFlightBodyBytes, limits.maxBodyBytes);
  const ingestContext = { queue, admission, maxBatchEvents: limits.maxBatchEvents };
  registerBatchesRoute(app, ingestContext);
  registerStudioLiveRoute(app, ingestContext);
  app.get('/api/v1/health', async () => ({
    status: 'ok',
    protocol: 1,
    queuedEvents: queue.pendingEvents,
    liveSubscribers: hub.subscriberCount,
  }));
  app.get('/api/v1/openapi.json', async () => openApiDocument);
  registerRunsRoutes(app, store);
  registerCompareRoutes(app, store);
  registerDashboardRoutes(app);

  const hub = new LiveHub(options.live);
  registerStreamRoutes(app, hub);
  /** Runs announced stale, so each is announced once (until it sends again). */
  const announcedStale = new Set<string>();
  queue.onCommitted((committed) => {
    for (const batch of committed) announcedStale.delete(batch.run.id);
    hub.publishCommits(committed);
  });
  // Streams never end by themselves: end them first, or closing would wait for them.
  app.addHook('preClose', async () => hub.close());

  // A short stale timeout is looked for often enough to be seen near its time.
  const staleAfterMs = options.liveness?.staleAfterMs ?? DEFAULT_LIVENESS.staleAfterMs;
  const sweepMs =
    options.livenessSweepMs ??
    Math.max(100, Math.min(DEFAULT_LIVENESS_SWEEP_MS, Math.round(staleAfterMs / 4)));
  const sweeper = setInterval(() => {
    store.sweepSilentRuns(Date.now()).then(
      (changes) => {
        for (const change of changes) {
          if (change.state === 'stale') {
            if (announcedStale.has(change.run.id)) continue;
            announcedStale.add(change.run.id);
          } else announcedStale.delete(change.run.id);
          hub.publishState(change.run, change.state);
        }
      },
      () => {},
    );
  }, sweepMs);
  sweeper.unref();

  let closing: Promise<void> | undefined;
  // While closing, an answer also ends its connection, or a keep-alive client would hold the
  // server open after its last request.
  app.addHook('onSend', async (_request, reply) => {
    if (closing !== undefined) reply.header('connection', 'close');
  });
  const close = () => {
    closing ??= (async () => {
      clearInterval(sweeper);
      const force = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
      force.unref();
      await app.close();
      clearTimeout(force);
      await queue.drain();
      await store.close();
    })();
    return closing;
  };

  try {
    await app.listen({ host, port: options.port ?? DEFAULT_PORT });
  } catch (error) {
    await store.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shownHost}:${port}`, port, app, store, hub, close };
}
