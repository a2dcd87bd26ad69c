import type { Sink } from '../pipeline/sink.js';

/** Accepts everything and keeps nothing: the API works, nothing is recorded. */
export function createNoopSink(): Sink {
  return { name: 'noop', send() {} };
}
