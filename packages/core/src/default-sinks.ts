import type { EnvironmentConfig } from './environment-config.js';
import type { Sink } from './sink.js';
import { createDirectorySink } from './sinks/directory-sink.js';

/** The sinks a run gets when it names none: the directory sink, plus what the environment enables. */
export function createDefaultSinks(config: EnvironmentConfig): Sink[] {
  return [createDirectorySink({ directory: config.directory })];
}
