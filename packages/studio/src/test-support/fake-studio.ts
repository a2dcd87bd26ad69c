/**
 * A fake DVC Studio for tests: a real HTTP server on 127.0.0.1 (port chosen at run time) that
 * records every request, checks `Authorization: token <expected>`, validates every body against
 * the api/live schema (answering 400 with the problems, and recording them as violations), and
 * injects faults on demand: statuses (500, 503, 429 with Retry-After, 401, 400), dropped
 * connections and delays. Everything is bounded: delays end when the server closes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type StudioBodyIssue, validateStudioBodyText } from '../validate-studio-body.js';

/** A body larger than this is refused (Studio's limit). */
const MAX_BODY_BYTES = 30 * 1024 * 1024;
/** A fault delay never holds a request longer than this, whatever a test asked for. */
const MAX_DELAY_MS = 60_000;

export type StudioFault =
  | { type: 'status'; status: number; body?: string; retryAfter?: string }
  | { type: 'drop' }
  | { type: 'delay'; milliseconds: number };

export interface StudioRequestRecord {
  /** The answer given. */
  status: number;
  /** The parsed body (undefined when it was not JSON). */
  body: Record<string, unknown> | undefined;
  /** The raw body as received. */
  text: string;
  bytes: number;
  authorization: string | undefined;
  contentType: string | undefined;
  path: string;
  /** Problems found by the schema check (empty: valid). */
  issues: StudioBodyIssue[];
  /** A fault answered instead of the normal handling. */
  fault?: StudioFault['type'];
  at: number;
}

export interface StudioViolation {
  index: number;
  issues: StudioBodyIssue[];
  text: string;
}

export class FakeStudio {
  readonly requests: StudioRequestRecord[] = [];
  /** Bodies that broke the schema: tests assert there are none. */
  readonly violations: StudioViolation[] = [];
  /** Requests must carry `Authorization: token <this>`. */
  token: string;
  /** The path requests must go to. */
  endpointPath = '/api/live';
  private readonly faults: StudioFault[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly delays = new Set<() => void>();
  /** Per experiment (baseline_sha + name): where its start/data/done sequence is. */
  private readonly phases = new Map<string, 'started' | 'done'>();

  constructor(token: string) {
    this.token = token;
  }

  /** The base URL to give the client (DVC_STUDIO_URL). */
  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    return `http://127.0.0.1:${address?.port ?? 0}`;
  }

  async start(): Promise<this> {
    const server = createServer((request, response) => void this.handle(request, response));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return this;
  }

  /** The next requests get these faults, one each, in order. */
  inject(...faults: StudioFault[]): void {
    this.faults.push(...faults);
  }

  /** The next `count` requests answer `status` (with Retry-After if given). */
  failNext(count: number, status: number, retryAfter?: string): void {
    for (let index = 0; index < count; index++) {
      this.faults.push(
        retryAfter === undefined
          ? { type: 'status', status }
          : { type: 'status', status, retryAfter },
      );
    }
  }

  /** Forgets the faults not yet used: the next requests are handled normally. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Accepted (200) bodies of one type, in order of arrival. */
  accepted(type?: 'start' | 'data' | 'done'): Array<Record<string, unknown>> {
    return this.requests
      .filter((request) => request.status === 200 && request.body !== undefined)
      .map((request) => request.body!)
      .filter((body) => type === undefined || body.type === type);
  }

  /** Every accepted metric row of one TSV path, in order. */
  rows(path: string): Array<Record<string, unknown>> {
    const rows: Array<Record<string, unknown>> = [];
    for (const body of this.accepted('data')) {
      const plots = body.plots as
        | Record<string, { data?: Array<Record<string, unknown>> }>
        | undefined;
      const data = plots?.[path]?.data;
      if (data !== undefined) rows.push(...data);
    }
    return rows;
  }

  async close(): Promise<void> {
    for (const release of this.delays) release();
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async readBody(request: IncomingMessage): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) return undefined;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /** start first, then data, then done; nothing after done (a new start begins again). */
  private checkSequence(body: Record<string, unknown>): StudioBodyIssue[] {
    const key = `${String(body.baseline_sha)}/${String(body.name)}`;
    const phase = this.phases.get(key);
    if (body.type === 'start') {
      this.phases.set(key, 'started');
      return [];
    }
    if (phase === undefined)
      return [{ path: 'type', message: `${String(body.type)} before start` }];
    if (phase === 'done') return [{ path: 'type', message: `${String(body.type)} after done` }];
    if (body.type === 'done') this.phases.set(key, 'done');
    return [];
  }

  private answer(
    response: ServerResponse,
    status: number,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(status === 200 ? { ok: true } : { detail: message }));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await this.readBody(request).catch(() => undefined);
    const record: StudioRequestRecord = {
      status: 0,
      body: undefined,
      text: raw?.toString('utf8') ?? '',
      bytes: raw?.length ?? 0,
      authorization: request.headers.authorization,
      contentType: request.headers['content-type'],
      path: request.url ?? '',
      issues: [],
      at: Date.now(),
    };
    this.requests.push(record);
    const fault = this.faults.shift();
    if (fault !== undefined) {
      record.fault = fault.type;
      if (fault.type === 'drop') {
        record.status = -1;
        request.socket.destroy();
        return;
      }
      if (fault.type === 'delay') {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(release, Math.min(fault.milliseconds, MAX_DELAY_MS));
          function release() {
            clearTimeout(timer);
            resolve();
          }
          this.delays.add(release);
        });
        if (request.socket.destroyed) {
          record.status = -1;
          return;
        }
      } else {
        record.status = fault.status;
        this.answer(
          response,
          fault.status,
          fault.body ?? `injected ${fault.status}`,
          fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter },
        );
        return;
      }
    }
    if (request.method !== 'POST' || record.path !== this.endpointPath) {
      record.status = 404;
      this.answer(response, 404, `no such endpoint: ${request.method} ${record.path}`);
      return;
    }
    if (raw === undefined) {
      record.status = 413;
      this.answer(response, 413, 'body too large');
      return;
    }
    if (record.authorization !== `token ${this.token}`) {
      record.status = 401;
      this.answer(response, 401, 'invalid token');
      return;
    }
    const { body, issues } = validateStudioBodyText(record.text);
    if (record.contentType?.split(';')[0]?.trim() !== 'application/json') {
      issues.push({
        path: '(header)',
        message: `Content-Type must be application/json, got ${record.contentType}`,
      });
    }
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
      record.body = body as Record<string, unknown>;
    }
    if (issues.length === 0 && record.body !== undefined)
      issues.push(...this.checkSequence(record.body));
    record.issues = issues;
    if (issues.length > 0) {
      this.violations.push({
        index: this.requests.length - 1,
        issues,
        text: record.text.slice(0, 2_000),
      });
      record.status = 400;
      this.answer(
        response,
        400,
        issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '),
      );
      return;
    }
    record.status = 200;
    this.answer(response, 200, 'ok');
  }
}

/** Starts a fake Studio that expects `token`. */
export function startFakeStudio(token: string): Promise<FakeStudio> {
  return new FakeStudio(token).start();
}
