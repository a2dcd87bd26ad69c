/**
 * The Studio sink, when the environment asks for it: DVC_STUDIO_TOKEN (or STUDIO_TOKEN) set and
 * DVC_STUDIO_OFFLINE not. This is what run defaults and adapters call; with no token it returns
 * undefined, silently (a debug note with NODE_DEBUG=livestep), as the reference client does.
 */
import { debuglog } from 'node:util';
import { isOfflineValue } from './studio-config.js';
import { createStudioSink } from './studio-sink.js';
import type { StudioSinkOptions } from './studio-sink-options.js';

const debug = debuglog('livestep');

export function studioSinkFromEnvironment(
  environment: NodeJS.ProcessEnv = process.env,
  overrides: Omit<StudioSinkOptions, 'environment'> = {},
): ReturnType<typeof createStudioSink> | undefined {
  if (overrides.offline ?? isOfflineValue(environment.DVC_STUDIO_OFFLINE)) {
    debug('DVC Studio: offline (DVC_STUDIO_OFFLINE is set); nothing is posted');
    return undefined;
  }
  const token =
    overrides.token?.trim() ||
    environment.DVC_STUDIO_TOKEN?.trim() ||
    environment.STUDIO_TOKEN?.trim();
  if (!token) {
    debug('DVC Studio: no DVC_STUDIO_TOKEN or STUDIO_TOKEN; the Studio sink is off');
    return undefined;
  }
  return createStudioSink({ ...overrides, environment });
}
