/**
 * Protocol v1 events and batches for tests, made the way core's Run makes them (a UUID per event,
 * a per-run seq), without a Run: tests control every field. Ids are random UUIDs, or, with
 * `ids: 'prefixed'`, what core's Run makes: one prefix for the run, then the seq in hex.
 */
import { randomUUID } from 'node:crypto';
import type { Batch, MetricValue, RunEvent, RunIdentity } from '@livestep/core';
import { prefixedEventId } from '@livestep/core/protocol';
import type { IngestBatch } from '../storage/run-store.js';

export class TestRun {
  readonly identity: RunIdentity;
  private seq = 0;
  ts: number;

  /** The run-wide id prefix, when ids are made from one. */
  readonly idPrefix: string | undefined;

  constructor(
    experiment = 'tests',
    name = 'run',
    startTs = 1_700_000_000_000,
    ids: 'random' | 'prefixed' = 'random',
  ) {
    this.identity = { id: randomUUID(), experiment, name };
    this.ts = startTs;
    // A v8 UUID's first 24 characters, as core's event-id factory makes them.
    this.idPrefix =
      ids === 'prefixed' ? `${randomUUID().slice(0, 14)}8${randomUUID().slice(15, 24)}` : undefined;
  }

  private stamp() {
    const seq = this.seq++;
    const id = this.idPrefix === undefined ? randomUUID() : prefixedEventId(this.idPrefix, seq);
    return { id, seq, ts: this.ts++ };
  }

  start(extra: Partial<Extract<RunEvent, { kind: 'start' }>> = {}): RunEvent {
    return {
      ...this.stamp(),
      kind: 'start',
      experiment: this.identity.experiment,
      name: this.identity.name,
      ...extra,
    };
  }

  metric(
    name: string,
    value: MetricValue,
    step: number,
    labels?: Record<string, string>,
  ): RunEvent {
    return { ...this.stamp(), kind: 'metric', name, value, step, ...(labels && { labels }) };
  }

  params(params: Record<string, unknown>): RunEvent {
    return { ...this.stamp(), kind: 'params', params };
  }

  done(
    status: 'completed' | 'failed' | 'interrupted' = 'completed',
    summary?: Record<string, MetricValue>,
  ): RunEvent {
    return { ...this.stamp(), kind: 'done', status, ...(summary && { summary }) };
  }

  event<K extends RunEvent['kind']>(kind: K, fields: Record<string, unknown>): RunEvent {
    return { ...this.stamp(), kind, ...fields } as RunEvent;
  }

  batch(events: RunEvent[]): Batch {
    return { protocol: 1, run: this.identity, events };
  }

  ingest(events: RunEvent[]): IngestBatch {
    return { run: this.identity, events, source: 'protocol' };
  }
}
