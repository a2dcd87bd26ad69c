/**
 * A fake Dioptra REST API for tests, built from backends.md B (Dioptra 1.1.0): a real HTTP
 * server on 127.0.0.1 (a free port) that serves what a metric-logging client uses:
 *
 * - `POST /api/v1/auth/login` `{username, password}` → `{username, status: "Login successful"}`
 *   with Flask-Login's `dioptra_remember_token` and Flask's `session` cookie (B.7); a bad user or
 *   password → 401 with Dioptra's error body.
 * - `POST /api/v1/jobs/{id}/metrics` `{name, value, step?, timestamp?}` (B.3), behind the login:
 *   checked by fake-dioptra-schema.ts; an upsert on (job, name, step), answered `{name, value}`.
 * - `GET /api/v1/jobs/{id}/metrics` (latest per name by highest step, B.4),
 *   `GET /api/v1/jobs/{id}/metrics/{name}/snapshots` (the paging envelope with Dioptra's
 *   page-number slice, B.5) and `GET /health`.
 *
 * Errors carry `{error, message, detail, originating_path}`; a request without a valid session
 * gets 401 `{message}`. Every refused body is recorded in `violations`, which tests assert empty.
 * Faults are injected on a schedule: a status (429, 503, any), a dropped connection, or an
 * expired session (every session forgotten, then the request answered as one without a session),
 * for the next request to an endpoint, or only after some requests to it were answered.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  badRequest,
  checkLogin,
  checkMetricBody,
  DioptraAnswer,
  dioptraError,
  type FakeDioptraPoint,
  type FakeDioptraValue,
  MAX_PAGE_SIZE,
  UNAUTHORIZED_MESSAGE,
} from './fake-dioptra-schema.js';

export type { FakeDioptraPoint, FakeDioptraValue } from './fake-dioptra-schema.js';

const API = '/api/v1/';
const JOB_METRICS = /^jobs\/([^/]+)\/metrics(?:\/([^/]+)\/snapshots)?$/;

export type FakeDioptraEndpoint = 'login' | 'metrics' | 'other';

export interface FakeDioptraFault {
  /** Answer this status with Dioptra's error body (default 503; 0 drops the connection)... */
  status?: number;
  /** ...or forget every session, then answer as to a request without one (401). */
  expireSession?: boolean;
  /** Sent as Retry-After. */
  retryAfter?: string;
  /** Only requests to this endpoint take it (`metrics` is the POST; default: any). */
  path?: 'login' | 'metrics';
  /** Not before this many requests to `path` (or to any) were answered. */
  after?: number;
  message?: string;
}

export interface FakeDioptraRequest {
  method: string;
  /** Under /api/v1/, e.g. `jobs/1/metrics`. */
  path: string;
  endpoint: FakeDioptraEndpoint;
  status: number;
  cookie: string | undefined;
  body: unknown;
  /** The body as sent, to search for what must never be in one. */
  raw: string;
  fault: boolean;
}

export interface FakeDioptraOptions {
  /** Accounts that may log in: username → password. */
  users?: Record<string, string>;
  /** Jobs that exist (default: job 1). */
  jobs?: readonly number[];
  /** As DIOPTRA_LOGIN_DISABLED: no session needed. */
  loginDisabled?: boolean;
}

export class FakeDioptra {
  readonly requests: FakeDioptraRequest[] = [];
  /** Bodies that broke Dioptra's schema: tests assert there are none. */
  readonly violations: Array<{ path: string; message: string }> = [];
  /** Every point accepted, in the order it arrived, per job (the table keeps one per name and step). */
  readonly posted = new Map<number, FakeDioptraPoint[]>();
  /** The job_metrics table (B.2): per job, `name\0step` → the row. */
  readonly table = new Map<number, Map<string, FakeDioptraPoint>>();
  /** Who logged in, in order. */
  readonly logins: string[] = [];
  /** The most requests it was answering at once (a sink that sends one at a time keeps it 1). */
  maxConcurrent = 0;
  private concurrent = 0;
  private readonly users: Record<string, string>;
  private readonly loginDisabled: boolean;
  /** Valid cookies, as `name=value`. */
  private readonly sessions = new Set<string>();
  private readonly faults: FakeDioptraFault[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(options: FakeDioptraOptions = {}) {
    this.users = options.users ?? {};
    this.loginDisabled = options.loginDisabled ?? false;
    for (const job of options.jobs ?? [1]) {
      this.posted.set(job, []);
      this.table.set(job, new Map());
    }
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo | undefined)?.port ?? 0}`;
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

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Faults, in order (a schedule). */
  inject(...faults: FakeDioptraFault[]): void {
    this.faults.push(...faults);
  }

  /** How many injected faults were not used yet. */
  get faultsLeft(): number {
    return this.faults.length;
  }

  /** Forgets every session now (as an expiry, or a logout everywhere). */
  expireSessions(): void {
    this.sessions.clear();
  }

  /** A job's points in the order they arrived, of one name or all. */
  points(job: number, name?: string): FakeDioptraPoint[] {
    const points = this.posted.get(job) ?? [];
    return name === undefined ? points : points.filter((point) => point.name === name);
  }

  private takeFault(endpoint: FakeDioptraEndpoint): FakeDioptraFault | undefined {
    const index = this.faults.findIndex((fault) => {
      if (fault.path !== undefined && fault.path !== endpoint) return false;
      const answered = this.requests.filter(
        (request) => fault.path === undefined || request.endpoint === fault.path,
      ).length;
      // The request being answered is already in `requests`.
      return answered - 1 >= (fault.after ?? 0);
    });
    return index === -1 ? undefined : this.faults.splice(index, 1)[0];
  }

  private authenticated(cookieHeader: string | undefined): boolean {
    if (this.loginDisabled) return true;
    return (cookieHeader ?? '')
      .split(';')
      .map((part) => part.trim())
      .some((pair) => /^(session|dioptra_remember_token)=/.test(pair) && this.sessions.has(pair));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    response.on('close', () => this.concurrent--);
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(request.url ?? '/', 'http://fake');
    const path = url.pathname.startsWith(API) ? url.pathname.slice(API.length) : url.pathname;
    const method = request.method ?? '';
    const isMetricPost = method === 'POST' && /^jobs\/[^/]+\/metrics$/.test(path);
    const endpoint = path === 'auth/login' ? 'login' : isMetricPost ? 'metrics' : 'other';
    const record: FakeDioptraRequest = {
      method,
      path,
      endpoint,
      status: 0,
      cookie: request.headers.cookie,
      body: undefined,
      raw,
      fault: false,
    };
    this.requests.push(record);
    const send = (status: number, body: unknown, headers: Record<string, string | string[]>) => {
      record.status = status;
      response
        .writeHead(status, { 'content-type': 'application/json', ...headers })
        .end(JSON.stringify(body));
    };
    try {
      const fault = this.takeFault(endpoint);
      if (fault !== undefined) {
        record.fault = true;
        if (fault.status === 0) {
          // A dropped connection: no answer at all.
          request.socket.destroy();
          return;
        }
        throw this.faultAnswer(fault, url.pathname);
      }
      if (method === 'POST') record.body = this.parse(request, raw, url.pathname);
      const answer = this.route(method, path, url, record, request.headers.cookie);
      send(200, answer.body, answer.headers ?? {});
    } catch (error) {
      const answer =
        error instanceof DioptraAnswer
          ? error
          : dioptraError(500, 'InternalServerError', String(error), url.pathname);
      if (answer.violation) this.violations.push({ path, message: answer.message });
      send(answer.status, answer.body, answer.headers);
    }
  }

  private faultAnswer(fault: FakeDioptraFault, pathname: string): DioptraAnswer {
    if (fault.expireSession) {
      this.expireSessions();
      return new DioptraAnswer(401, { message: UNAUTHORIZED_MESSAGE });
    }
    const status = fault.status ?? 503;
    const error = status === 429 ? 'TooManyRequests' : 'ServiceUnavailable';
    const message = fault.message ?? `injected ${status}`;
    const headers: Record<string, string> =
      fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter };
    const body = { error, message, detail: {}, originating_path: pathname };
    return new DioptraAnswer(status, body, false, headers);
  }

  private parse(request: IncomingMessage, raw: string, pathname: string): unknown {
    const type = request.headers['content-type']?.split(';')[0]?.trim();
    if (type !== 'application/json') {
      throw badRequest(`Content-Type must be application/json, got ${type}`, pathname);
    }
    try {
      return JSON.parse(raw);
    } catch {
      throw badRequest('The body is not JSON', pathname);
    }
  }

  private route(
    method: string,
    path: string,
    url: URL,
    record: FakeDioptraRequest,
    cookie: string | undefined,
  ): { body: unknown; headers?: Record<string, string[]> } {
    if (path === '/health' && method === 'GET')
      return { body: { status: 'healthy', version: '1.1.0' } };
    if (path === 'auth/login' && method === 'POST') return this.login(record.body, url.pathname);
    const match = JOB_METRICS.exec(path);
    if (match === null) {
      throw dioptraError(404, 'NotFound', `No route for ${method} ${url.pathname}`, url.pathname);
    }
    if (!this.authenticated(cookie))
      throw new DioptraAnswer(401, { message: UNAUTHORIZED_MESSAGE });
    const job = Number(match[1]);
    const rows = /^[0-9]+$/.test(match[1]!) ? this.table.get(job) : undefined;
    if (rows === undefined) {
      const message = `Failed to locate job with id(s) ${match[1]}`;
      throw dioptraError(404, 'EntityDoesNotExistError', message, url.pathname);
    }
    if (method === 'POST' && match[2] === undefined) {
      const point = checkMetricBody(record.body, url.pathname);
      this.posted.get(job)!.push(point);
      rows.set(`${point.name}\u0000${point.step}`, point);
      return { body: { name: point.name, value: point.value } };
    }
    if (method !== 'GET') {
      throw dioptraError(405, 'MethodNotAllowed', `${method} is not allowed`, url.pathname);
    }
    if (match[2] === undefined) return { body: this.latest(rows) };
    return { body: this.snapshots(rows, decodeURIComponent(match[2]), url) };
  }

  private login(
    body: unknown,
    pathname: string,
  ): { body: unknown; headers: Record<string, string[]> } {
    const { username, password } = checkLogin(body, pathname);
    if (!(username in this.users)) {
      throw dioptraError(
        401,
        'UserDoesNotExistError',
        'Unauthorized: The user does not exist.',
        pathname,
      );
    }
    if (this.users[username] !== password) {
      throw dioptraError(
        401,
        'UserPasswordError',
        'Unauthorized: The password is incorrect.',
        pathname,
      );
    }
    this.logins.push(username);
    const session = randomBytes(24).toString('base64url');
    const remember = `${randomBytes(4).readUInt32BE()}|${randomBytes(32).toString('hex')}`;
    this.sessions.add(`session=${session}`);
    this.sessions.add(`dioptra_remember_token=${remember}`);
    return {
      body: { username, status: 'Login successful' },
      headers: {
        // Flask-Login sets its remember cookie in after_request; Flask saves the session after.
        'set-cookie': [
          `dioptra_remember_token=${remember}; Expires=Tue, 15 Dec 2099 00:00:00 GMT; HttpOnly; Path=/`,
          `session=${session}; HttpOnly; Path=/; SameSite=Lax`,
        ],
      },
    };
  }

  private latest(
    rows: Map<string, FakeDioptraPoint>,
  ): Array<{ name: string; value: FakeDioptraValue }> {
    const latest = new Map<string, FakeDioptraPoint>();
    for (const row of rows.values()) {
      const seen = latest.get(row.name);
      if (seen === undefined || row.step > seen.step) latest.set(row.name, row);
    }
    return [...latest.values()].map(({ name, value }) => ({ name, value }));
  }

  private snapshots(rows: Map<string, FakeDioptraPoint>, name: string, url: URL): unknown {
    const index = Number(url.searchParams.get('index') ?? 0);
    const pageLength = Number(url.searchParams.get('pageLength') ?? 10);
    const valid = Number.isInteger(index) && index >= 0 && Number.isInteger(pageLength);
    if (!valid || pageLength < 1 || pageLength > MAX_PAGE_SIZE) {
      throw badRequest(
        `index must be an integer >= 0 and pageLength 1..${MAX_PAGE_SIZE}`,
        url.pathname,
      );
    }
    const history = [...rows.values()].filter((row) => row.name === name);
    // Dioptra's quirk (B.5): the slice takes `index` as a page number, the envelope as an offset.
    const data = history.slice(index * pageLength, (index + 1) * pageLength);
    const base = `${url.pathname}?pageLength=${pageLength}`;
    const more = history.length > index + data.length;
    return {
      index,
      isComplete: !more,
      totalNumResults: history.length,
      first: `${base}&index=0`,
      ...(more && { next: `${base}&index=${index + pageLength}` }),
      ...(index > 0 && { prev: `${base}&index=${Math.max(0, index - pageLength)}` }),
      data,
    };
  }
}

/** Starts a fake Dioptra REST API on 127.0.0.1 (a free port). */
export function startFakeDioptra(options: FakeDioptraOptions = {}): Promise<FakeDioptra> {
  return new FakeDioptra(options).start();
}
