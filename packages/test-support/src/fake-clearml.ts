/**
 * A fake ClearML API server for tests, built from backends.md A only: a real HTTP server on
 * 127.0.0.1 (a free port) serving `/{service}.{action}` and `/v{major.minor}/{service}.{action}`
 * on any method (A.1), with a JSON body (POST, or GET with a body, as the SDK sends by default)
 * merged over the query string. Every JSON answer is ClearML's envelope `{meta, data}` with the
 * HTTP status equal to meta.result_code (A.4). It serves:
 *
 * - `auth.login` with Basic access:secret (or a valid Bearer token) → `{token}` (A.3); every other
 *   call needs `Bearer <issued token>` or the Basic keys: missing → 401/20, a bad type 401/10,
 *   malformed 401/21, wrong keys 401/22, an unknown or expired token 401/30.
 * - projects.get_all / projects.create, tasks.create / edit_hyper_params / started / completed /
 *   failed / stopped / close / get_by_id / get_all (fake-clearml-tasks.ts, A.8).
 * - `events.add_batch` (and `events.add`, one event): JSON lines, each event checked (fake-clearml-events.ts, A.5), stored per
 *   task with scalars, plots and images overwriting by document ID and logs appended.
 *
 * A Content-Encoding on a request is 415 plain text (A.1); a body over the SDK's 15 MiB
 * max_req_size is 413. Every request that broke the API is recorded in `violations`, which tests
 * assert empty. Faults are injected on a schedule (`failNext`, `inject`). The file server (a
 * separate origin, A.1) is `fileServer`, started and closed with this one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClearmlAuth, type FakeClearmlLogin } from './fake-clearml-auth.js';
import { parseBatch, parseLine } from './fake-clearml-events.js';
import { FakeClearmlFiles } from './fake-clearml-files.js';
import { type FakeClearmlFault, readBody } from './fake-clearml-http.js';
import {
  type Body,
  ClearmlAnswer,
  compareVersions,
  ENDPOINTS,
  type Envelope,
  FAKE_CLEARML_LIMITS,
  invalid,
  isObject,
  MAX_API_VERSION,
  versionValue,
} from './fake-clearml-schema.js';
import { FakeClearmlStore } from './fake-clearml-store.js';
import { newId } from './fake-clearml-tasks.js';

export type { FakeClearmlLogin } from './fake-clearml-auth.js';
export type * from './fake-clearml-events.js';
export type { FakeClearmlFilesRequest } from './fake-clearml-files.js';
export {
  FakeClearmlFiles,
  type FakeClearmlUpload,
  startFakeClearmlFiles,
} from './fake-clearml-files.js';
export type { FakeClearmlFault } from './fake-clearml-http.js';
export type {
  Envelope as FakeClearmlEnvelope,
  FakeClearmlHyperparams,
  FakeClearmlParam,
  FakeClearmlStatus,
} from './fake-clearml-schema.js';
export { FAKE_CLEARML_LIMITS, TRANSITIONS } from './fake-clearml-schema.js';
export type {
  FakeClearmlProject,
  FakeClearmlTask,
  FakeClearmlTransition,
} from './fake-clearml-tasks.js';

const PATH = /^\/(?:v([0-9]+(?:\.[0-9]+)?)\/)?([A-Za-z_]\w*\.[A-Za-z_]\w*)\/?$/;

export interface FakeClearmlRequest {
  method: string;
  /** `service.action` (or the URL's path when it names none). */
  path: string;
  /** The version in the URL, if any. */
  version: string | undefined;
  status: number;
  subcode: number;
  authorization: string | undefined;
  contentType: string | undefined;
  /** The body's size in bytes, as received. */
  bytes: number;
  /** The parsed body (events.add_batch: its events). */
  body: unknown;
  /** Headers the SDK sends (A.2). */
  worker: string | undefined;
  client: string | undefined;
  fault: boolean;
  at: number;
}

export interface FakeClearmlOptions {
  /** The keys auth.login takes (default `access-key` / `secret-key`). */
  accessKey?: string;
  secretKey?: string;
}

export class FakeClearml extends FakeClearmlStore {
  readonly requests: FakeClearmlRequest[] = [];
  /** The file server (its violations are recorded in `violations` too). */
  readonly fileServer = new FakeClearmlFiles(this.violations);
  private readonly auth: ClearmlAuth;

  constructor(options: FakeClearmlOptions = {}) {
    super();
    this.auth = new ClearmlAuth(
      options.accessKey ?? 'access-key',
      options.secretKey ?? 'secret-key',
    );
  }

  get accessKey(): string {
    return this.auth.accessKey;
  }

  get secretKey(): string {
    return this.auth.secretKey;
  }

  /** Every auth.login that issued a token, in order. */
  get logins(): readonly FakeClearmlLogin[] {
    return this.auth.logins;
  }

  /** The file server's origin (`CLEARML_FILES_HOST`). */
  get filesUrl(): string {
    return this.fileServer.url;
  }

  override async start(): Promise<this> {
    await this.fileServer.start();
    return super.start();
  }

  override async close(): Promise<void> {
    await Promise.all([super.close(), this.fileServer.close()]);
  }

  /** Every issued token becomes invalid (401/30 on its next use); a new login works. */
  expireTokens(): void {
    this.auth.expire();
  }

  protected async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await readBody(request);
    const url = new URL(request.url ?? '/', 'http://fake');
    const match = PATH.exec(url.pathname);
    const endpoint = match?.[2] ?? url.pathname;
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    const record: FakeClearmlRequest = {
      method: request.method ?? '',
      path: endpoint,
      version: match?.[1],
      status: 0,
      subcode: 0,
      authorization: request.headers.authorization,
      contentType: request.headers['content-type'],
      bytes: raw.length,
      body: undefined,
      worker: header('x-clearml-worker') ?? header('x-trains-worker'),
      client: header('x-clearml-client') ?? header('x-trains-client'),
      fault: false,
      at: Date.now(),
    };
    this.requests.push(record);
    const requested = match?.[1] ?? MAX_API_VERSION;
    const send = (code: number, subcode: number, message: string, data: Body, errorData = {}) => {
      record.status = code;
      record.subcode = subcode;
      const id = newId();
      const actual = ENDPOINTS[endpoint];
      const envelope: Envelope = {
        meta: {
          id,
          trx: header('x-clearml-trx') ?? header('x-trains-trx') ?? id,
          endpoint: {
            name: endpoint,
            requested_version: versionValue(requested, requested),
            actual_version:
              actual === undefined || compareVersions(requested, actual) < 0
                ? null
                : versionValue(actual, requested),
          },
          result_code: code,
          result_subcode: subcode,
          result_msg: message,
          error_stack: null,
          error_data: errorData,
        },
        data,
      };
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        server: 'clearml',
      };
      if (data.token !== undefined && endpoint === 'auth.login')
        headers['set-cookie'] = `clearml_token_basic=${String(data.token)}; Path=/; HttpOnly`;
      response.writeHead(code, headers).end(JSON.stringify(envelope));
    };
    if (request.method === 'OPTIONS') {
      record.status = 200;
      response.writeHead(200).end();
      return;
    }
    const fault = this.takeFault(endpoint);
    if (fault !== undefined) {
      record.fault = true;
      this.answerFault(fault, request, response, record, send);
      return;
    }
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined) {
      record.status = 415;
      this.violations.push({
        path: endpoint,
        message: `Content-Encoding ${encoding} (ClearML answers 415)`,
      });
      response
        .writeHead(415, { 'content-type': 'text/plain', server: 'clearml' })
        .end(`Content encoding is not supported (${encoding})`);
      return;
    }
    try {
      send(200, 0, 'OK', this.answer(request, url, match, raw, record));
    } catch (error) {
      const answer =
        error instanceof ClearmlAnswer
          ? error
          : new ClearmlAnswer(500, 0, `fake ClearML: ${String(error)}`);
      if (answer.violation) this.violations.push({ path: endpoint, message: answer.message });
      send(answer.code, answer.subcode, answer.message, {}, answer.errorData);
    }
  }

  private answerFault(
    fault: FakeClearmlFault,
    request: IncomingMessage,
    response: ServerResponse,
    record: FakeClearmlRequest,
    send: (code: number, subcode: number, message: string, data: Body) => void,
  ): void {
    if (fault.expireTokens) this.expireTokens();
    const status = fault.status ?? (fault.expireTokens ? 401 : 503);
    if (status === 0) {
      record.status = 0;
      request.socket.destroy();
      return;
    }
    if (fault.retryAfter !== undefined) response.setHeader('retry-after', fault.retryAfter);
    const subcode = fault.subcode ?? (status === 401 ? 30 : 0);
    send(
      status,
      subcode,
      fault.message ?? (status === 401 ? 'Invalid token' : `injected ${status}`),
      {},
    );
  }

  private answer(
    request: IncomingMessage,
    url: URL,
    match: RegExpExecArray | null,
    raw: Buffer,
    record: FakeClearmlRequest,
  ): Body {
    if (raw.length > FAKE_CLEARML_LIMITS.maxRequestBytes)
      throw new ClearmlAnswer(
        413,
        0,
        `Request body of ${raw.length} bytes is over the ${FAKE_CLEARML_LIMITS.maxRequestBytes} of api.http.max_req_size: split the batch at line boundaries`,
        true,
      );
    if (match === null) throw invalid(0, `Invalid request path ${url.pathname}`);
    const endpoint = match[2]!;
    const minVersion = ENDPOINTS[endpoint];
    const requested = match[1] ?? MAX_API_VERSION;
    if (minVersion === undefined || compareVersions(requested, minVersion) < 0)
      throw new ClearmlAnswer(
        404,
        0,
        `Unable to find endpoint for name ${endpoint} and version ${requested}`,
        true,
      );
    if (compareVersions(requested, MAX_API_VERSION) > 0)
      throw invalid(2, `Invalid API version (max. supported version is ${MAX_API_VERSION})`);
    const text = raw.toString('utf8');
    if (endpoint === 'events.add_batch') {
      this.auth.authorize(request);
      const type = request.headers['content-type']?.split(';')[0]?.trim();
      if (type !== 'application/json-lines')
        this.violations.push({
          path: endpoint,
          message: `Content-Type ${type} (the SDK sends application/json-lines)`,
        });
      const events = parseBatch(text);
      record.body = events;
      return this.addBatch(events as Body[], record.worker, endpoint);
    }
    if (endpoint === 'events.add') {
      this.auth.authorize(request);
      let event: unknown;
      try {
        event = parseLine(text);
      } catch {
        throw invalid(12, `The body is not JSON: ${text.slice(0, 200)}`);
      }
      if (!isObject(event)) throw invalid(12, 'The body must be a JSON object (one event)');
      record.body = event;
      return this.addBatch([event], record.worker, endpoint);
    }
    let body: Body = Object.fromEntries(url.searchParams);
    if (text.trim() !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw invalid(12, `The body is not JSON: ${text.slice(0, 200)}`);
      }
      if (!isObject(parsed)) throw invalid(12, 'The body must be a JSON object');
      body = { ...body, ...parsed };
    }
    record.body = body;
    if (endpoint === 'auth.login') return this.auth.login(request, body);
    this.auth.authorize(request);
    return this.store.route(endpoint, body)!;
  }
}

/** Starts a fake ClearML API server and its file server on 127.0.0.1 (free ports). */
export function startFakeClearml(options: FakeClearmlOptions = {}): Promise<FakeClearml> {
  return new FakeClearml(options).start();
}
