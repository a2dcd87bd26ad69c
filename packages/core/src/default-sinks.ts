import { dirname, join, resolve } from 'node:path';
import type { EnvironmentConfig } from './environment-config.js';
import type { Sink } from './sink.js';
import { createDirectorySink } from './sinks/directory-sink.js';
import { createHttpSink } from './sinks/http-sink.js';

/** Where sinks keep state beside the run folder (spool files): `<parent>/.livestep/`. */
export function stateDirectoryFor(runDirectory: string): string {
  return join(dirname(resolve(runDirectory)), '.livestep');
}

/**
 * The sinks a run gets when it names none: the directory sink, plus the HTTP sink when
 * LIVESTEP_URL is set.
 */
export function createDefaultSinks(config: EnvironmentConfig): Sink[] {
  const sinks: Sink[] = [createDirectorySink({ directory: config.directory })];
  if (config.url !== undefined) {
    sinks.push(
      createHttpSink({
        url: config.url,
        ...(config.token !== undefined && { token: config.token }),
        allowInsecureHttp: config.allowInsecureHttp,
        spoolDirectory: join(stateDirectoryFor(config.directory), 'spool'),
      }),
    );
  }
  return sinks;
}
