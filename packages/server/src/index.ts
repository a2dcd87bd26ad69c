/**
 * @livestep/server: the livestep tracking server.
 *
 *   import { createServer } from '@livestep/server';
 *   const server = await createServer({ port: 4318, dataDirectory: './livestep-server' });
 *   // LIVESTEP_URL=http://127.0.0.1:4318 for the HTTP sink; DVC_STUDIO_URL for Python DVCLive
 */
export { createServer, type LivestepServer, resolveDataDirectory } from './create-server.js';
export {
  DEFAULT_DATA_DIRECTORY,
  DEFAULT_HOST,
  DEFAULT_MAX_BATCH_EVENTS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_QUEUED_EVENTS,
  DEFAULT_PORT,
  type ServerLimits,
  type ServerOptions,
} from './server-options.js';
export type * from './storage/run-store.js';
export { BadQueryError, NotFoundError } from './storage/run-store.js';
export {
  DEFAULT_LIVENESS,
  SqliteRunStore,
  type SqliteRunStoreOptions,
} from './storage/sqlite/sqlite-run-store.js';
