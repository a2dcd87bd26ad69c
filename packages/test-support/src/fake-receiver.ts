/**
 * A fake HTTP receiver for tests: a real server on 127.0.0.1 (port chosen at its first start,
 * kept across a stop and restart) that records every request and injects faults on demand:
 * statuses (5xx, 429 with Retry-After, refusals with a body), answers held longer than a client's
 * timeout, dropped connections, 200s cut off in the middle of their body, and a stop/restart
 * (refused connections meanwhile). What a request means is a flavour's: the livestep server
 * (`FakeLivestepServer`), DVC Studio (`FakeStudio`, from `@livestep/test-support/studio`).
 * Everything is bounded: a held answer ends by itself or when the receiver stops.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** A fault delay never holds a request longer than this, whatever a test asked for. */
const MAX_DELAY_MS = 60_000;

export interface StatusAnswer {
  status: number;
  body?: string;
  retryAfter?: string;
  headers?: Record<string, string>;
}

export type ReceiverFault =
  | ({ type: 'status' } & StatusAnswer)
  /** The answer is held this long, then the request is handled as usual. */
  | { type: 'delay'; milliseconds: number }
  /** The connection is closed without an answer. */
  | { type: 'drop' }
  /** 200 and the start of a JSON body, then the connection is cut; nothing is stored. */
  | { type: 'cut_off' };

/** What every flavour records of a request. */
export interface ReceivedHttpRequest {
  method: string;
  path: string;
  /** The answer given; -1 when none was (a dropped or abandoned request). */
  status: number;
  authorization: string | undefined;
  contentType: string | undefined;
  gzip: boolean;
  /** The body as received (gunzipped), as text. */
  text: string;
  /** Its size as received (before gunzip). */
  bytes: number;
  /** True when it was larger than `maxBodyBytes` (`text` is then empty). */
  tooLarge: boolean;
  /** A fault answered instead of the normal handling. */
  fault?: ReceiverFault['type'];
  /** Epoch ms when it arrived (comparable with `Date.now()` in a child process). */
  at: number;
}

export abstract class FakeReceiver<Received extends ReceivedHttpRequest = ReceivedHttpRequest> {
  readonly requests: Received[] = [];
  /** When set, every request gets this answer (after the queued faults). */
  everyRequest: StatusAnswer | undefined;
  /** A body larger than this is not read (`tooLarge`). */
  maxBodyBytes = 30 * 1024 * 1024;
  /** The most requests this receiver was handling at once (a client that overlaps requests). */
  maxRequestsInFlight = 0;
  private requestsInFlight = 0;
  private readonly faults: ReceiverFault[] = [];
  private server: Server | undefined;
  private port = 0;
  private readonly sockets = new Set<Socket>();
  private readonly delays = new Set<() => void>();

  /** The base URL to give the client. */
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

  /** Stops listening, ends held answers and drops open connections: clients get refused. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const release of this.delays) release();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next requests get these faults, one each, in order. */
  inject(...faults: ReceiverFault[]): void {
    this.faults.push(...faults);
  }

  /** The next `count` requests get `status` (optionally with Retry-After, headers and a body). */
  failNext(count: number, status: number, options: Omit<StatusAnswer, 'status'> = {}): void {
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

  /** The next `count` requests lose their connection without an answer. */
  dropNext(count: number): void {
    for (let index = 0; index < count; index++) this.faults.push({ type: 'drop' });
  }

  /** Forgets the faults not yet used: the next requests are handled normally. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** The flavour's record of a request, from what every flavour records. */
  protected abstract record(request: ReceivedHttpRequest): Received;

  /** The flavour's handling of a request no fault answered; answers with `answer`. */
  protected abstract receive(
    record: Received,
    response: ServerResponse,
    incoming: IncomingMessage,
  ): void;

  /**
   * Whether a request whose client left during a delay is still handled (a server that stores
   * what it was sent, whether or not its answer arrives) or abandoned.
   */
  protected handlesAbandonedRequests = false;

  /**
   * Whether `requests` lists a request when it arrives (its `at` the arrival) or only once it is
   * answered (its `at` the answer, the order that of the answers).
   */
  protected recordsOnArrival = true;

  /** Gives `record` its final status, and lists it if it is listed when answered. */
  protected settle(record: Received, status: number): void {
    record.status = status;
    if (!this.recordsOnArrival) {
      record.at = Date.now();
      this.requests.push(record);
    }
  }

  protected answer(
    record: Received,
    response: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ): void {
    this.settle(record, status);
    if (!response.destroyed) response.writeHead(status, headers).end(body);
  }

  /** The answer of a `status` fault or of `everyRequest`; flavours give their own error body. */
  protected answerStatus(record: Received, response: ServerResponse, fault: StatusAnswer): void {
    const headers: Record<string, string> = { 'content-type': 'text/plain', ...fault.headers };
    if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
    this.answer(record, response, fault.status, fault.body ?? `injected ${fault.status}`, headers);
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

  private async readBody(request: IncomingMessage): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size > this.maxBodyBytes) return undefined;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await this.readBody(request).catch(() => undefined);
    const gzip = request.headers['content-encoding'] === 'gzip';
    const record = this.record({
      method: request.method ?? '',
      path: request.url ?? '',
      status: -1,
      authorization: request.headers.authorization,
      contentType: request.headers['content-type'],
      gzip,
      text: raw === undefined ? '' : (gzip ? gunzipSync(raw) : raw).toString('utf8'),
      bytes: raw?.length ?? 0,
      tooLarge: raw === undefined,
      at: Date.now(),
    });
    if (this.recordsOnArrival) this.requests.push(record);
    const fault =
      this.faults.shift() ??
      (this.everyRequest && ({ type: 'status', ...this.everyRequest } as const));
    if (fault !== undefined) record.fault = fault.type;
    if (fault?.type === 'drop') {
      this.settle(record, -1);
      request.socket.destroy();
      return;
    }
    if (fault?.type === 'status') {
      this.answerStatus(record, response, fault);
      return;
    }
    if (fault?.type === 'cut_off') {
      this.settle(record, 200);
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '40' });
      response.write('{"stored":');
      // Let the start of the body reach the client, then cut the connection.
      await new Promise((resolve) => setTimeout(resolve, 5));
      response.socket?.destroy();
      return;
    }
    if (fault?.type === 'delay') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(release, Math.min(fault.milliseconds, MAX_DELAY_MS));
        const delays = this.delays;
        function release() {
          clearTimeout(timer);
          delays.delete(release);
          resolve();
        }
        delays.add(release);
      });
      if (request.socket.destroyed && !this.handlesAbandonedRequests) {
        this.settle(record, -1);
        return;
      }
    }
    this.receive(record, response, request);
  }
}
