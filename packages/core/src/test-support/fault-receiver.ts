/**
 * A livestep receiver for tests: a real HTTP server on 127.0.0.1 (port chosen at run time) that
 * stores events once per id, like the real server, and injects faults on demand: bursts of
 * 5xx/429 (with Retry-After), answers slower than the client's timeout, permanent refusals
 * (400, 401, 413), and a stop/restart on the same port (refused connections meanwhile).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { Batch, RunEvent } from '../protocol.js';

type Fault =
  | { type: 'status'; status: number; body?: string; retryAfter?: string }
  | { type: 'delay'; milliseconds: number };

export interface ReceivedRequest {
  status: number;
  events: number;
  gzip: boolean;
  authorization: string | undefined;
  at: number;
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
  private readonly faults: Fault[] = [];
  private server: Server | undefined;
  private port = 0;
  private readonly sockets = new Set<import('node:net').Socket>();

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((request, response) => void this.handle(request, response));
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

  /** The next `count` requests get `status` (optionally with Retry-After and a body). */
  failNext(
    count: number,
    status: number,
    options: { retryAfter?: string; body?: string } = {},
  ): void {
    for (let index = 0; index < count; index++)
      this.faults.push({ type: 'status', status, ...options });
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

    const fault = this.faults.shift();
    if (fault?.type === 'delay')
      await new Promise((resolve) => setTimeout(resolve, fault.milliseconds));
    if (fault?.type === 'status') {
      record(fault.status, 0);
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
      response.writeHead(fault.status, headers).end(fault.body ?? `injected ${fault.status}`);
      return;
    }
    if (this.token !== undefined && request.headers.authorization !== `Bearer ${this.token}`) {
      record(401, 0);
      response.writeHead(401).end('invalid token');
      return;
    }
    let batch: Batch;
    try {
      batch = JSON.parse(raw.toString('utf8')) as Batch;
    } catch {
      record(400, 0);
      response.writeHead(400).end('body is not JSON');
      return;
    }
    if (this.maxEventsPerBatch !== undefined && batch.events.length > this.maxEventsPerBatch) {
      record(413, batch.events.length);
      response.writeHead(413).end(`at most ${this.maxEventsPerBatch} events per batch`);
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
    if (!response.destroyed) {
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ accepted: batch.events.length }));
    }
  }
}

export async function startFaultReceiver(): Promise<FaultReceiver> {
  return new FaultReceiver().start();
}
