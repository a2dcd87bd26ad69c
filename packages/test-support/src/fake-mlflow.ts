/**
 * A fake MLflow tracking server for tests, built from backends.md D (MLflow's REST API): a real
 * HTTP server on 127.0.0.1 (a free port) that serves `/api/2.0/mlflow/...` for the calls a logging
 * client makes, keeps experiments, runs, metrics, params and tags in memory, and answers as MLflow
 * does: `{...}` on success, `{"error_code": ..., "message": ...}` with MLflow's status on failure
 * (D.3). Every body is checked against the documented messages (field names and types, int64 and
 * double in their proto JSON forms, the LogBatch limits, key names and lengths, write-once params);
 * what breaks them is answered 400 and recorded in `violations`, which tests assert empty. It is
 * stricter than MLflow in one way, on purpose: an unknown field is a violation (MLflow ignores it,
 * so a misspelt field would be lost there without a word). Faults (429, 503, 401, any status, a
 * dropped connection) are injected on a schedule: the next N requests, or the next N to one path.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  type Body,
  CODE_OF_STATUS,
  check,
  checkKeyValues,
  checkLogBatch,
  checkUpdateRun,
  ERROR_STATUS,
  FAKE_MLFLOW_LIMITS,
  Refusal,
} from './fake-mlflow-messages.js';

const API = '/api/2.0/mlflow/';

export { FAKE_MLFLOW_LIMITS } from './fake-mlflow-messages.js';

export interface FakeMlflowMetric {
  key: string;
  /** As received: a number, or "NaN", "Infinity", "-Infinity". */
  value: number | string;
  timestamp: number;
  step: number;
}

export interface FakeMlflowRun {
  runId: string;
  experimentId: string;
  runName: string;
  status: 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
  startTime: number;
  endTime?: number;
  metrics: FakeMlflowMetric[];
  params: Map<string, string>;
  tags: Map<string, string>;
}

export interface FakeMlflowFault {
  /** The answer's status; 0: the connection is closed without an answer. */
  status: number;
  /** Sent as Retry-After. */
  retryAfter?: string;
  /** Only requests to this path (e.g. `runs/log-batch`) take it. */
  path?: string;
  message?: string;
}

export interface FakeMlflowExperiment {
  id: string;
  name: string;
  lifecycleStage: 'active' | 'deleted';
}

export interface FakeMlflowRequest {
  method: string;
  /** Under the API base, e.g. `runs/log-batch`. */
  path: string;
  status: number;
  authorization: string | undefined;
  body: Record<string, unknown> | undefined;
  bytes: number;
  fault: boolean;
  at: number;
}

export class FakeMlflow {
  readonly requests: FakeMlflowRequest[] = [];
  /** Bodies that broke the documented messages: tests assert there are none. */
  readonly violations: Array<{ path: string; message: string }> = [];
  readonly experiments = new Map<string, FakeMlflowExperiment>();
  readonly runs = new Map<string, FakeMlflowRun>();
  /** When set, requests must carry exactly this Authorization header (`Bearer x`, `Basic y`). */
  authorization: string | undefined;
  private readonly faults: FakeMlflowFault[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private nextExperimentId = 1;

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

  /** The next `count` requests (to `options.path` when given) are answered `status` with MLflow's error body. */
  failNext(count: number, status: number, options: Omit<FakeMlflowFault, 'status'> = {}): void {
    for (let index = 0; index < count; index++) this.faults.push({ status, ...options });
  }

  /** Faults given one by one, in order (a schedule). */
  inject(...faults: FakeMlflowFault[]): void {
    this.faults.push(...faults);
  }

  /** How many injected faults were not used yet. */
  get faultsLeft(): number {
    return this.faults.length;
  }

  /** The only run (throws unless there is exactly one). */
  onlyRun(): FakeMlflowRun {
    const runs = [...this.runs.values()];
    if (runs.length !== 1) throw new Error(`expected one MLflow run, found ${runs.length}`);
    return runs[0]!;
  }

  /** A metric's points in the order they arrived (what get-history returns). */
  history(run: FakeMlflowRun, key: string): FakeMlflowMetric[] {
    return run.metrics.filter((metric) => metric.key === key);
  }

  private takeFault(path: string): FakeMlflowFault | undefined {
    const index = this.faults.findIndex((fault) => fault.path === undefined || fault.path === path);
    return index === -1 ? undefined : this.faults.splice(index, 1)[0];
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(request.url ?? '/', 'http://fake');
    const path = url.pathname.startsWith(API) ? url.pathname.slice(API.length) : url.pathname;
    const record: FakeMlflowRequest = {
      method: request.method ?? '',
      path,
      status: 0,
      authorization: request.headers.authorization,
      body: undefined,
      bytes: raw.length,
      fault: false,
      at: Date.now(),
    };
    this.requests.push(record);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      response
        .writeHead(status, { 'content-type': 'application/json', ...headers })
        .end(JSON.stringify(body));
    };
    const fault = this.takeFault(path);
    if (fault !== undefined) {
      record.fault = true;
      if (fault.status === 0) {
        request.socket.destroy();
        return;
      }
      const code = CODE_OF_STATUS[fault.status] ?? 'INTERNAL_ERROR';
      send(
        fault.status,
        { error_code: code, message: fault.message ?? `injected ${fault.status}` },
        fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter },
      );
      return;
    }
    if (this.authorization !== undefined && request.headers.authorization !== this.authorization) {
      send(401, { error_code: 'UNAUTHENTICATED', message: 'Invalid credentials' });
      return;
    }
    try {
      let body: Body = Object.fromEntries(url.searchParams);
      if (request.method === 'POST') {
        if (request.headers['content-type']?.split(';')[0]?.trim() !== 'application/json') {
          throw new Refusal(
            'BAD_REQUEST',
            `Content-Type must be application/json, got ${request.headers['content-type']}`,
          );
        }
        if (path === 'runs/log-batch' && raw.length > FAKE_MLFLOW_LIMITS.maxRequestBytes) {
          throw new Refusal(
            'INVALID_PARAMETER_VALUE',
            `Batched logging API requests must be at most ${FAKE_MLFLOW_LIMITS.maxRequestBytes} bytes, got ${raw.length}`,
          );
        }
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
          throw new Refusal('BAD_REQUEST', 'the body must be a JSON object');
        body = parsed as Body;
      }
      record.body = body;
      send(200, this.route(`${request.method} ${path}`, body));
    } catch (error) {
      const refusal =
        error instanceof Refusal
          ? error
          : new Refusal('BAD_REQUEST', `malformed request: ${String(error)}`);
      const expected =
        refusal.code === 'RESOURCE_DOES_NOT_EXIST' || refusal.code === 'RESOURCE_ALREADY_EXISTS';
      if (!expected && !refusal.message.startsWith('Changing param values'))
        this.violations.push({ path, message: refusal.message });
      send(ERROR_STATUS[refusal.code] ?? 400, {
        error_code: refusal.code,
        message: refusal.message,
      });
    }
  }

  private route(call: string, body: Body): unknown {
    switch (call) {
      case 'GET experiments/get-by-name': {
        check(body, { experiment_name: 'string' }, 'GetExperimentByName', ['experiment_name']);
        const found = [...this.experiments.values()].find(
          (experiment) => experiment.name === body.experiment_name,
        );
        if (found === undefined)
          throw new Refusal(
            'RESOURCE_DOES_NOT_EXIST',
            `Could not find experiment with name '${String(body.experiment_name)}'`,
          );
        return {
          experiment: {
            experiment_id: found.id,
            name: found.name,
            lifecycle_stage: found.lifecycleStage,
          },
        };
      }
      case 'POST experiments/create': {
        check(
          body,
          { name: 'string', artifact_location: 'string', tags: 'array' },
          'CreateExperiment',
          ['name'],
        );
        if ([...this.experiments.values()].some((experiment) => experiment.name === body.name)) {
          throw new Refusal(
            'RESOURCE_ALREADY_EXISTS',
            `Experiment '${String(body.name)}' already exists.`,
          );
        }
        const id = String(this.nextExperimentId++);
        this.experiments.set(id, { id, name: body.name as string, lifecycleStage: 'active' });
        return { experiment_id: id };
      }
      case 'POST runs/create':
        return this.createRun(body);
      case 'POST runs/log-batch':
        return this.logBatch(body);
      case 'POST runs/update': {
        const update = checkUpdateRun(body);
        const run = this.run(update.runId);
        if (update.status !== undefined) run.status = update.status;
        if (update.endTime !== undefined) run.endTime = update.endTime;
        if (update.runName !== undefined) run.runName = update.runName;
        return { run_info: this.info(run) };
      }
      case 'GET metrics/get-history': {
        check(
          body,
          {
            run_id: 'string',
            run_uuid: 'string',
            metric_key: 'string',
            page_token: 'string',
            max_results: 'int64',
          },
          'GetMetricHistory',
          ['metric_key'],
        );
        return {
          metrics: this.history(this.run(body.run_id ?? body.run_uuid), body.metric_key as string),
        };
      }
      default:
        throw new Refusal('ENDPOINT_NOT_FOUND', `No API endpoint for ${call}`);
    }
  }

  private run(id: unknown): FakeMlflowRun {
    const run = typeof id === 'string' ? this.runs.get(id) : undefined;
    if (run === undefined)
      throw new Refusal('RESOURCE_DOES_NOT_EXIST', `Run with id=${String(id)} not found`);
    return run;
  }

  private info(run: FakeMlflowRun): Body {
    return {
      run_id: run.runId,
      run_uuid: run.runId,
      run_name: run.runName,
      experiment_id: run.experimentId,
      status: run.status,
      start_time: run.startTime,
      ...(run.endTime !== undefined && { end_time: run.endTime }),
      artifact_uri: `mlflow-artifacts:/${run.experimentId}/${run.runId}/artifacts`,
      lifecycle_stage: 'active',
    };
  }

  private createRun(body: Body): unknown {
    check(
      body,
      {
        experiment_id: 'string',
        user_id: 'string',
        run_name: 'string',
        start_time: 'int64',
        tags: 'array',
      },
      'CreateRun',
    );
    const experiment = this.experiments.get(body.experiment_id as string);
    if (experiment === undefined)
      throw new Refusal(
        'RESOURCE_DOES_NOT_EXIST',
        `No Experiment with id=${String(body.experiment_id)} exists`,
      );
    const tags = checkKeyValues(
      (body.tags as unknown[] | undefined) ?? [],
      'CreateRun.tags',
      FAKE_MLFLOW_LIMITS.maxTagValueLength,
    );
    const runId = randomUUID().replace(/-/g, '');
    const run: FakeMlflowRun = {
      runId,
      experimentId: experiment.id,
      runName: (body.run_name as string | undefined) ?? '',
      status: 'RUNNING',
      startTime: Number(body.start_time ?? Date.now()),
      metrics: [],
      params: new Map(),
      tags: new Map(tags.map((tag) => [tag.key, tag.value])),
    };
    this.runs.set(runId, run);
    return { run: { info: this.info(run), data: { tags: tags } } };
  }

  private logBatch(body: Body): unknown {
    const { runId, metrics, params, tags } = checkLogBatch(body);
    const run = this.run(runId);
    for (const param of params) {
      const old = run.params.get(param.key);
      if (old !== undefined && old !== param.value) {
        throw new Refusal(
          'INVALID_PARAMETER_VALUE',
          `Changing param values is not allowed. Param with key='${param.key}' was already logged with value='${old}' for run ID='${run.runId}'. Attempted logging new value '${param.value}'.`,
        );
      }
    }
    for (const param of params) run.params.set(param.key, param.value);
    for (const tag of tags) run.tags.set(tag.key, tag.value);
    run.metrics.push(...metrics);
    return {};
  }
}

/** Starts a fake MLflow tracking server on 127.0.0.1 (a free port). */
export function startFakeMlflow(options: { authorization?: string } = {}): Promise<FakeMlflow> {
  const fake = new FakeMlflow();
  fake.authorization = options.authorization;
  return fake.start();
}
