import { describe, expect, it } from 'vitest';
import type { PostResult } from '../../delivery/post-request.js';
import { resolveMlflowConfig } from './mlflow-config.js';
import { judgeMlflowAnswer } from './mlflow-request.js';

const TOKEN = 'mlflowSECRETtoken42';
const transport = {
  config: resolveMlflowConfig({
    environment: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000', MLFLOW_TRACKING_TOKEN: TOKEN },
  }),
  fetch: undefined,
  timeoutMs: 1000,
};

function answer(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Extract<PostResult, { answered: true }> {
  return {
    answered: true,
    status,
    headers,
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    complete: true,
    truncated: false,
  };
}

const judge = (result: PostResult, accept?: (status: number, code?: string) => boolean) =>
  judgeMlflowAnswer(result, transport, { path: 'runs/log-batch', ...(accept && { accept }) });

describe("MLflow's status rules", () => {
  it('2xx with a JSON body is delivered; cut off or not JSON is retried', () => {
    expect(judge(answer(200, {})).outcome).toEqual({ verdict: 'delivered' });
    expect(judge({ ...answer(200, {}), complete: false }).outcome.verdict).toBe('retry');
    expect(judge(answer(200, '<html>proxy</html>')).outcome.verdict).toBe('retry');
  });

  it('429, 503 and other 5xx are retried, honouring Retry-After', () => {
    const limited = judge(
      answer(
        429,
        { error_code: 'REQUEST_LIMIT_EXCEEDED', message: 'slow down' },
        { 'retry-after': '2' },
      ),
    );
    expect(limited.outcome).toMatchObject({ verdict: 'retry', retryAfterMs: 2000 });
    expect(limited.outcome.verdict === 'retry' && limited.outcome.reason).toMatch(
      /429 REQUEST_LIMIT_EXCEEDED: slow down/,
    );
    expect(
      judge(answer(503, { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'x' })).outcome.verdict,
    ).toBe('retry');
    expect(judge(answer(500, { error_code: 'INTERNAL_ERROR', message: 'x' })).outcome.verdict).toBe(
      'retry',
    );
    expect(
      judge({ answered: false, reason: 'network', cause: 'ECONNREFUSED' }).outcome,
    ).toMatchObject({
      verdict: 'retry',
      unreachable: true,
    });
  });

  it("400 INVALID_PARAMETER_VALUE is permanent with MLflow's message; later requests go on", () => {
    const { outcome } = judge(
      answer(400, {
        error_code: 'INVALID_PARAMETER_VALUE',
        message: 'A batch logging request can contain at most 1000 metrics',
      }),
    );
    expect(outcome).toMatchObject({
      verdict: 'permanent',
      status: 400,
      stopsPosting: false,
      message: 'A batch logging request can contain at most 1000 metrics',
    });
    expect(outcome.verdict === 'permanent' && outcome.reason).toContain('INVALID_PARAMETER_VALUE');
  });

  it('401 and 403 stop posting, naming MLFLOW_TRACKING_TOKEN and never showing it', () => {
    for (const status of [401, 403]) {
      const { outcome } = judge(
        answer(status, { error_code: 'UNAUTHENTICATED', message: `bad token ${TOKEN}` }),
      );
      expect(outcome).toMatchObject({ verdict: 'permanent', stopsPosting: true });
      const text = JSON.stringify(outcome);
      expect(text).toContain('MLFLOW_TRACKING_TOKEN');
      expect(text).not.toContain(TOKEN);
    }
  });

  it('404 RESOURCE_DOES_NOT_EXIST for the run is permanent and stops posting; a 3xx is never followed', () => {
    const gone = judge(
      answer(404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Run abc not found' }),
    ).outcome;
    expect(gone).toMatchObject({ verdict: 'permanent', status: 404, stopsPosting: true });
    expect(gone.verdict === 'permanent' && gone.reason).toMatch(/run is gone/);
    expect(judge(answer(302, '')).outcome).toMatchObject({
      verdict: 'permanent',
      stopsPosting: true,
    });
  });

  it('an accepted error is an answer (get-by-name 404, create RESOURCE_ALREADY_EXISTS)', () => {
    const accept = (status: number, code?: string) =>
      status === 400 && code === 'RESOURCE_ALREADY_EXISTS';
    const judged = judge(
      answer(400, { error_code: 'RESOURCE_ALREADY_EXISTS', message: 'exists' }),
      accept,
    );
    expect(judged.outcome).toEqual({ verdict: 'delivered' });
    expect(judged.answer).toMatchObject({ status: 400, errorCode: 'RESOURCE_ALREADY_EXISTS' });
  });
});
