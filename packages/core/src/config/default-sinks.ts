import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { Sink } from '../pipeline/sink.js';
import { createDirectorySink } from '../sinks/directory-sink.js';
import { createHttpSink } from '../sinks/http-sink.js';
import { type EnvironmentConfig, isTruthy } from './environment-config.js';

/** Where sinks keep state beside the run folder (spool files): `<parent>/.livestep/`. */
export function stateDirectoryFor(runDirectory: string): string {
  return join(dirname(resolve(runDirectory)), '.livestep');
}

/** The part of @livestep/studio that core calls; core cannot depend on it (studio depends on core). */
interface StudioModule {
  studioSinkFromEnvironment(
    environment: NodeJS.ProcessEnv,
    overrides: { directory: string; onWarning?: (message: string) => void },
  ): Sink | undefined;
}

/** Loads @livestep/studio if it is installed; the hook for tests to pretend it is not. */
export type StudioLoader = () => StudioModule;

/**
 * Finds @livestep/studio from the program's folder first (where the user installed it; pnpm's
 * strict layout hides it from core's own folder), then from core's location (npm's flat layout).
 */
const loadInstalledStudio: StudioLoader = () => {
  try {
    return createRequire(join(process.cwd(), 'package.json'))('@livestep/studio') as StudioModule;
  } catch {
    return createRequire(import.meta.url)('@livestep/studio') as StudioModule;
  }
};

function wantsStudio(environment: NodeJS.ProcessEnv): boolean {
  const token = environment.DVC_STUDIO_TOKEN?.trim() || environment.STUDIO_TOKEN?.trim();
  return Boolean(token) && !isTruthy(environment.DVC_STUDIO_OFFLINE);
}

export interface DefaultSinkContext {
  environment: NodeJS.ProcessEnv;
  warn: (message: string) => void;
  /** Who writes the run folder, for the message another writer gets (e.g. `run "bright-owl" (id)`). */
  writer?: string;
  loadStudio?: StudioLoader;
}

/**
 * The sinks a run gets when it names none: the directory sink; the HTTP sink when LIVESTEP_URL
 * is set; the DVC Studio sink when DVC_STUDIO_TOKEN (or STUDIO_TOKEN) is set and
 * DVC_STUDIO_OFFLINE is not, provided @livestep/studio is installed.
 */
export function createDefaultSinks(
  config: EnvironmentConfig,
  context?: DefaultSinkContext,
): Sink[] {
  const sinks: Sink[] = [
    createDirectorySink({
      directory: config.directory,
      resume: config.resume,
      ...(context && { onWarning: context.warn }),
      ...(context?.writer !== undefined && { writer: context.writer }),
    }),
  ];
  if (config.url !== undefined) {
    sinks.push(
      createHttpSink({
        url: config.url,
        ...(config.token !== undefined && { token: config.token }),
        allowInsecureHttp: config.allowInsecureHttp,
        spoolDirectory: join(stateDirectoryFor(config.directory), 'spool'),
        ...(context && { onWarning: context.warn }),
      }),
    );
  }
  if (context !== undefined && wantsStudio(context.environment)) {
    let studio: StudioModule | undefined;
    try {
      studio = (context.loadStudio ?? loadInstalledStudio)();
    } catch {
      context.warn(
        'livestep: DVC_STUDIO_TOKEN is set but @livestep/studio is not installed, so nothing is sent to DVC Studio; install it with `npm install @livestep/studio`',
      );
    }
    const sink = studio?.studioSinkFromEnvironment(context.environment, {
      directory: config.directory,
      onWarning: context.warn,
    });
    if (sink !== undefined) sinks.push(sink);
  }
  return sinks;
}
