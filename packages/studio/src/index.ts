/**
 * @livestep/studio: stream livestep runs to DVC Studio's live experiments (api/live).
 *
 *   import { createDirectorySink, startRun } from '@livestep/core';
 *   import { studioSinkFromEnvironment } from '@livestep/studio';
 *   const studio = studioSinkFromEnvironment(); // undefined without DVC_STUDIO_TOKEN
 *   const run = startRun({ sinks: [createDirectorySink(), ...(studio ? [studio] : [])] });
 */

export { type PlotLimits, STUDIO_PLOT_LIMITS } from './plot-chunks.js';
export { removeCredentials } from './repository-url.js';
export { MAX_MESSAGE_LENGTH, STUDIO_CLIENT } from './studio-bodies.js';
export {
  DEFAULT_STUDIO_ENDPOINT,
  DEFAULT_STUDIO_URL,
  resolveStudioEndpoint,
} from './studio-config.js';
export { ZERO_SHA } from './studio-identity.js';
export { DEFAULT_MAX_UNACKNOWLEDGED_ROWS } from './studio-run-state.js';
export { createStudioSink } from './studio-sink.js';
export { studioSinkFromEnvironment } from './studio-sink-from-environment.js';
export {
  DEFAULT_STUDIO_POST_INTERVAL_MS,
  DEFAULT_STUDIO_REQUEST_TIMEOUT_MS,
  DEFAULT_STUDIO_RETRY_POLICY,
  type StudioSinkOptions,
} from './studio-sink-options.js';
export {
  type StudioBodyIssue,
  type StudioBodyType,
  validateStudioBody,
  validateStudioBodyText,
} from './validate-studio-body.js';
