/**
 * A fake DVC Studio for tests, on the fake receiver (every fault of `FakeReceiver`): it checks
 * `Authorization: token <expected>`, validates every body against the api/live schema
 * (@livestep/studio's validator) and the start/data/done order, answering 400 with the problems
 * and recording them as violations. Imported from `@livestep/test-support/studio`, so that only
 * the tests that use it load @livestep/studio.
 */
import type { ServerResponse } from 'node:http';
import { type StudioBodyIssue, validateStudioBodyText } from '@livestep/studio';
import { FakeReceiver, type ReceivedHttpRequest, type StatusAnswer } from './fake-receiver.js';

export interface StudioRequestRecord extends ReceivedHttpRequest {
  /** The parsed body (undefined when it was not a JSON object). */
  body: Record<string, unknown> | undefined;
  /** Problems found by the schema check (empty: valid). */
  issues: StudioBodyIssue[];
}

export interface StudioViolation {
  index: number;
  issues: StudioBodyIssue[];
  text: string;
}

export class FakeStudio extends FakeReceiver<StudioRequestRecord> {
  /** Bodies that broke the schema: tests assert there are none. */
  readonly violations: StudioViolation[] = [];
  /** Requests must carry `Authorization: token <this>`. */
  token: string;
  /** The path requests must go to. */
  endpointPath = '/api/live';
  /** Per experiment (baseline_sha + name): where its start/data/done sequence is. */
  private readonly phases = new Map<string, 'started' | 'done'>();

  constructor(token: string) {
    super();
    this.token = token;
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

  protected record(request: ReceivedHttpRequest): StudioRequestRecord {
    return { ...request, body: undefined, issues: [] };
  }

  protected override answerStatus(
    record: StudioRequestRecord,
    response: ServerResponse,
    fault: StatusAnswer,
  ): void {
    const headers = { ...fault.headers };
    if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
    this.answerJson(
      record,
      response,
      fault.status,
      fault.body ?? `injected ${fault.status}`,
      headers,
    );
  }

  protected receive(record: StudioRequestRecord, response: ServerResponse): void {
    if (record.method !== 'POST' || record.path !== this.endpointPath) {
      this.answerJson(record, response, 404, `no such endpoint: ${record.method} ${record.path}`);
      return;
    }
    if (record.tooLarge) {
      this.answerJson(record, response, 413, 'body too large');
      return;
    }
    if (record.authorization !== `token ${this.token}`) {
      this.answerJson(record, response, 401, 'invalid token');
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
        index: this.requests.indexOf(record),
        issues,
        text: record.text.slice(0, 2_000),
      });
      const message = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
      this.answerJson(record, response, 400, message);
      return;
    }
    this.answerJson(record, response, 200, 'ok');
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

  /** Studio's answers: `{"ok":true}`, or `{"detail": message}` with an error status. */
  private answerJson(
    record: StudioRequestRecord,
    response: ServerResponse,
    status: number,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    const body = JSON.stringify(status === 200 ? { ok: true } : { detail: message });
    this.answer(record, response, status, body, { 'content-type': 'application/json', ...headers });
  }
}

/** Starts a fake Studio on 127.0.0.1 (a free port) that expects `token`. */
export function startFakeStudio(token: string): Promise<FakeStudio> {
  return new FakeStudio(token).start();
}
