/**
 * A livestep server for tests, on the fake receiver (every fault of `FakeReceiver`): it takes
 * batches at any path, stores events once per id, like the real server, and acknowledges a stored
 * batch as a livestep server does (200 and a JSON object). On demand it also refuses: requests
 * without the bearer token (401), batches over a size (413), the batches holding some event (400
 * with the server's message). With `metricColumns` set it takes metric columns and announces
 * them, as a livestep server does; without, it is a server that knows event objects only.
 */
import type { ServerResponse } from 'node:http';
import {
  type Batch,
  expandMetricColumns,
  METRIC_COLUMNS_CAPABILITY,
  type RunEvent,
  validateBatch,
  type WireBatch,
} from '@livestep/core/protocol';
import { FakeReceiver, type ReceivedHttpRequest } from './fake-receiver.js';

export interface ReceivedBatchRequest extends ReceivedHttpRequest {
  /** Events in the batch (0 when it was answered before being read). */
  events: number;
  /** Metric-columns blocks in the body, when there were any. */
  columnBlocks?: number;
  /** The batch's events (metric columns expanded), once it was read. */
  batch?: RunEvent[];
}

export class FakeLivestepServer extends FakeReceiver<ReceivedBatchRequest> {
  /** Stored events by id: a retried event is stored once. */
  readonly events = new Map<string, RunEvent>();
  /** Events in the order they were first stored. */
  readonly arrivals: RunEvent[] = [];
  duplicates = 0;
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  token: string | undefined;
  /** When set, batches with more events than this get 413. */
  maxEventsPerBatch: number | undefined;
  /**
   * When set, a batch holding an event for which this returns a message gets 400 with that
   * message, and nothing of it is stored (a server's schema refusing one value).
   */
  refuseEvent: ((event: RunEvent) => string | undefined) | undefined;
  /** When true, acknowledgements announce `metric-columns` and `metrics` blocks are taken. */
  metricColumns = false;
  /**
   * When true (with `metricColumns`), a body holding a `metrics` block gets 400: a server that
   * announces columns but cannot read them.
   */
  refuseMetricColumns = false;
  /** A server stores what it was sent, whether or not its answer reaches the client. */
  protected override handlesAbandonedRequests = true;
  protected override recordsOnArrival = false;
  /** Any size is read. */
  override maxBodyBytes = Number.POSITIVE_INFINITY;

  /** The batches answered 200, each with when it was answered (epoch ms) and its events. */
  acceptedBatches(): Array<{ at: number; events: RunEvent[] }> {
    return this.requests
      .filter((request) => request.status === 200 && request.batch !== undefined)
      .map((request) => ({ at: request.at, events: request.batch! }));
  }

  /** The values of the metric `name`, in the order they were stored. */
  metricValues(name: string): unknown[] {
    return this.arrivals
      .filter((event) => event.kind === 'metric' && event.name === name)
      .map((event) => (event as { value: unknown }).value);
  }

  protected record(request: ReceivedHttpRequest): ReceivedBatchRequest {
    return { ...request, events: 0 };
  }

  protected receive(record: ReceivedBatchRequest, response: ServerResponse): void {
    if (this.token !== undefined && record.authorization !== `Bearer ${this.token}`) {
      this.answer(record, response, 401, 'invalid token');
      return;
    }
    let batch: Batch;
    try {
      batch = JSON.parse(record.text) as Batch;
    } catch {
      this.answer(record, response, 400, 'body is not JSON');
      return;
    }
    const wire = batch as unknown as WireBatch;
    if (wire.events.some((event) => event.kind === 'metrics')) {
      const validation = validateBatch(wire, { metricColumns: true });
      const problem = !this.metricColumns
        ? 'events: kind "metrics" is not one this receiver knows'
        : this.refuseMetricColumns
          ? 'events: metric columns cannot be read here'
          : validation.ok
            ? undefined
            : validation.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
      if (problem !== undefined) {
        record.columnBlocks = 1;
        this.refuse(record, response, problem);
        return;
      }
      const events: RunEvent[] = [];
      let columnBlocks = 0;
      for (const event of wire.events) {
        if (event.kind === 'metrics') {
          columnBlocks++;
          events.push(...expandMetricColumns(event));
        } else events.push(event);
      }
      record.columnBlocks = columnBlocks;
      batch = { ...batch, events };
    }
    if (this.maxEventsPerBatch !== undefined && batch.events.length > this.maxEventsPerBatch) {
      record.events = batch.events.length;
      this.answer(record, response, 413, `at most ${this.maxEventsPerBatch} events per batch`);
      return;
    }
    const refusal =
      this.refuseEvent &&
      batch.events.map((event) => this.refuseEvent!(event)).find((message) => message);
    if (refusal) {
      record.events = batch.events.length;
      this.refuse(record, response, refusal);
      return;
    }
    for (const event of batch.events) {
      if (this.events.has(event.id)) {
        this.duplicates++;
        continue;
      }
      this.events.set(event.id, event);
      this.arrivals.push(event);
    }
    record.events = batch.events.length;
    record.batch = batch.events;
    this.answer(
      record,
      response,
      200,
      JSON.stringify({
        accepted: batch.events.length,
        ...(this.metricColumns ? { capabilities: [METRIC_COLUMNS_CAPABILITY] } : {}),
      }),
      { 'content-type': 'application/json' },
    );
  }

  /** 400 with the server's message, as a livestep server refuses a batch. */
  private refuse(record: ReceivedBatchRequest, response: ServerResponse, message: string): void {
    this.answer(record, response, 400, JSON.stringify({ error: 'invalid_batch', message }), {
      'content-type': 'application/json',
    });
  }
}

/** Starts a fake livestep server on 127.0.0.1 (a free port). */
export function startFakeLivestepServer(): Promise<FakeLivestepServer> {
  return new FakeLivestepServer().start();
}
