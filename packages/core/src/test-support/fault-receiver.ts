/**
 * A livestep receiver for tests: a real HTTP server on 127.0.0.1 (port chosen at run time) that
 * stores events once per id, like the real server, and injects faults on demand: bursts of
 * 5xx/429 (with Retry-After), answers slower than the client's timeout, permanent refusals
 * (400, 401, 413; of every request, or of the batches holding some event), redirects, 200s cut
 * off in the middle of their body, and a stop/restart on the same port (refused connections
 * meanwhile). It acknowledges a stored batch as a livestep server does: 200 and a JSON object.
 * With `metricColumns` set it also takes metric columns and announces them, as a livestep server
 * does; without, it is a server that knows event objects only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { Batch, RunEvent, WireBatch } from '../protocol/events.js';
import { expandMetricColumns, METRIC_COLUMNS_CAPABILITY } from '../protocol/metric-columns.js';
import { validateBatch } from '../protocol/validate-batch.js';

interface StatusAnswer {
  status: number;
  body?: string;
  retryAfter?: string;
  headers?: Record<string, string>;
}

type Fault =
  | ({ type: 'status' } & StatusAnswer)
  | { type: 'delay'; milliseconds: number }
  /** 200 and the start of a JSON body, then the connection is cut; nothing is stored. */
  | { type: 'cut_off' };

export interface ReceivedRequest {
  status: number;
  events: number;
  gzip: boolean;
  authorization: string | undefined;
  at: number;
  /** Metric-columns blocks in the body, when there were any. */
  columnBlocks?: number;
}

export class FaultReceiver {
  /** Stored events by id: a retried event is stored once. */
  readonly events = new Map<string, RunEvent>();
  /** Events in the order they were first stored. */
  readonly arrivals: RunEvent[] = [];
  readonly requests: ReceivedRequest[] = [];
  duplicates = 0;
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  token: string | undefined;
  /** When set, batches with more events than this get 413. */
  maxEventsPerBatch: number | undefined;
  /** When set, every request gets this answer (after the queued faults), and nothing is stored. */
  everyRequest: StatusAnswer | undefined;
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
  /** The most requests this receiver was handling at once (a client that overlaps requests). */
  maxRequestsInFlight = 0;
  private requestsInFlight = 0;
  private readonly faults: Fault[] = [];
  private server: Server | undefined;
  private port = 0;
  private readonly sockets = new Set<import('node:net').Socket>();

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((request, response) => void this.tracked(request, response));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening and drops open connections: clients now get refused connections. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `count` requests get `status` (optionally with Retry-After, headers and a body). */
  failNext(
    count: number,
    status: number,
    options: { retryAfter?: string; body?: string; headers?: Record<string, string> } = {},
  ): void {
    for (let index = 0; index < count; index++)
      this.faults.push({ type: 'status', status, ...options });
  }

  /** The next `count` requests get a 200 whose body is cut off by a closed connection. */
  cutOffNext(count: number): void {
    for (let index = 0; index < count; index++) this.faults.push({ type: 'cut_off' });
  }

  /** The next `count` requests are answered only after `milliseconds`. */
  delayNext(count: number, milliseconds: number): void {
    for (let index = 0; index < count; index++) this.faults.push({ type: 'delay', milliseconds });
  }

  metricValues(name: string): unknown[] {
    return this.arrivals
      .filter((event) => event.kind === 'metric' && event.name === name)
      .map((event) => (event as { value: unknown }).value);
  }

  private async tracked(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.requestsInFlight++;
    this.maxRequestsInFlight = Math.max(this.maxRequestsInFlight, this.requestsInFlight);
    try {
      await this.handle(request, response);
    } finally {
      this.requestsInFlight--;
    }
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let raw = Buffer.concat(chunks);
    const gzip = request.headers['content-encoding'] === 'gzip';
    if (gzip) raw = gunzipSync(raw);
    const record = (status: number, events: number) =>
      this.requests.push({
        status,
        events,
        gzip,
        authorization: request.headers.authorization,
        at: Date.now(),
      });

    const fault =
      this.faults.shift() ??
      (this.everyRequest && ({ type: 'status', ...this.everyRequest } as const));
    if (fault?.type === 'delay')
      await new Promise((resolve) => setTimeout(resolve, fault.milliseconds));
    if (fault?.type === 'status') {
      record(fault.status, 0);
      const headers: Record<string, string> = { 'content-type': 'text/plain', ...fault.headers };
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
      response.writeHead(fault.status, headers).end(fault.body ?? `injected ${fault.status}`);
      return;
    }
    if (fault?.type === 'cut_off') {
      record(200, 0);
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '40' });
      response.write('{"stored":');
      // Let the start of the body reach the client, then cut the connection.
      await new Promise((resolve) => setTimeout(resolve, 5));
      response.socket?.destroy();
      return;
    }
    if (this.token !== undefined && request.headers.authorization !== `Bearer ${this.token}`) {
      record(401, 0);
      response.writeHead(401).end('invalid token');
      return;
    }
    let batch: Batch;
    let columnBlocks = 0;
    try {
      batch = JSON.parse(raw.toString('utf8')) as Batch;
    } catch {
      record(400, 0);
      response.writeHead(400).end('body is not JSON');
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
        this.requests.push({
          status: 400,
          events: 0,
          gzip,
          authorization: request.headers.authorization,
          at: Date.now(),
          columnBlocks: 1,
        });
        response
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'invalid_batch', message: problem }));
        return;
      }
      const events: RunEvent[] = [];
      for (const event of wire.events) {
        if (event.kind === 'metrics') {
          columnBlocks++;
          events.push(...expandMetricColumns(event));
        } else events.push(event);
      }
      batch = { ...batch, events };
    }
    if (this.maxEventsPerBatch !== undefined && batch.events.length > this.maxEventsPerBatch) {
      record(413, batch.events.length);
      response.writeHead(413).end(`at most ${this.maxEventsPerBatch} events per batch`);
      return;
    }
    const refusal =
      this.refuseEvent &&
      batch.events.map((event) => this.refuseEvent!(event)).find((message) => message);
    if (refusal) {
      record(400, batch.events.length);
      response
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'invalid_batch', message: refusal }));
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
    record(200, batch.events.length);
    if (columnBlocks > 0) this.requests.at(-1)!.columnBlocks = columnBlocks;
    if (!response.destroyed) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          accepted: batch.events.length,
          ...(this.metricColumns ? { capabilities: [METRIC_COLUMNS_CAPABILITY] } : {}),
        }),
      );
    }
  }
}

export async function startFaultReceiver(): Promise<FaultReceiver> {
  return new FaultReceiver().start();
}
