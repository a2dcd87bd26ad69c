/** Keeps every batch in memory: for tests, and for code that wants to look at what it logged. */

import type { Sink } from '../pipeline/sink.js';
import type { Batch, MetricEvent, RunEvent } from '../protocol/events.js';
import { mergeParams } from '../run/params.js';

export interface MemorySink extends Sink {
  readonly batches: Batch[];
  /** Every event received, in order. */
  readonly events: RunEvent[];
  /** Metric events, optionally of one name. */
  metrics(name?: string): MetricEvent[];
  /** The params as the run sees them: every params event merged. */
  params(): Record<string, unknown>;
  /** How many times close() was called. */
  readonly closeCount: number;
}

export function createMemorySink(name = 'memory'): MemorySink {
  const batches: Batch[] = [];
  const events: RunEvent[] = [];
  let closeCount = 0;
  return {
    name,
    batches,
    events,
    get closeCount() {
      return closeCount;
    },
    send(batch) {
      batches.push(batch);
      for (const event of batch.events) events.push(event);
    },
    close() {
      closeCount++;
    },
    metrics(metricName) {
      return events.filter(
        (event): event is MetricEvent =>
          event.kind === 'metric' && (metricName === undefined || event.name === metricName),
      );
    },
    params() {
      const merged: Record<string, unknown> = {};
      for (const event of events) if (event.kind === 'params') mergeParams(merged, event.params);
      return merged;
    },
  };
}
