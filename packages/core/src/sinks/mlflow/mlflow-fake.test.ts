/**
 * The fake MLflow the sink is tested against refuses what MLflow refuses (backends.md D), with
 * MLflow's error bodies, and records each refusal as a violation: otherwise "no violations" in
 * the sink's tests would prove nothing.
 */

import { type FakeMlflow, startFakeMlflow } from '@livestep/test-support/mlflow';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let mlflow: FakeMlflow;

beforeEach(async () => {
  mlflow = await startFakeMlflow({ authorization: 'Bearer t' });
});

afterEach(async () => {
  await mlflow.close();
});

async function call(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  authorization = 'Bearer t',
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${mlflow.url}/api/2.0/mlflow/${path}`, {
    method,
    headers: { authorization, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function newRun(): Promise<string> {
  const { json } = await call('POST', 'experiments/create', { name: 'e' });
  const created = await call('POST', 'runs/create', {
    experiment_id: json.experiment_id,
    start_time: 1,
  });
  return (created.json.run as Record<string, Record<string, string>>).info!.run_id!;
}

const metric = (step: number) => ({ key: 'loss', value: 0.5, timestamp: 1, step });

describe('the fake MLflow', () => {
  it('answers get-by-name 404 RESOURCE_DOES_NOT_EXIST, then finds what create made; a second create is RESOURCE_ALREADY_EXISTS', async () => {
    expect(await call('GET', 'experiments/get-by-name?experiment_name=e')).toEqual({
      status: 404,
      json: {
        error_code: 'RESOURCE_DOES_NOT_EXIST',
        message: "Could not find experiment with name 'e'",
      },
    });
    expect((await call('POST', 'experiments/create', { name: 'e' })).json).toEqual({
      experiment_id: '1',
    });
    expect((await call('POST', 'experiments/create', { name: 'e' })).json.error_code).toBe(
      'RESOURCE_ALREADY_EXISTS',
    );
    expect((await call('GET', 'experiments/get-by-name?experiment_name=e')).json).toMatchObject({
      experiment: { experiment_id: '1', name: 'e' },
    });
    expect(mlflow.violations).toEqual([]);
  });

  it.each([
    [
      '1001 metrics',
      { metrics: Array.from({ length: 1001 }, (_, step) => metric(step)) },
      /at most 1000 metrics/,
    ],
    [
      '101 params',
      { params: Array.from({ length: 101 }, (_, index) => ({ key: `p${index}`, value: 'v' })) },
      /at most 100 params/,
    ],
    [
      '101 tags',
      { tags: Array.from({ length: 101 }, (_, index) => ({ key: `t${index}`, value: 'v' })) },
      /at most 100 tags/,
    ],
    [
      '1001 entities',
      {
        metrics: Array.from({ length: 1000 }, (_, step) => metric(step)),
        tags: [{ key: 't', value: 'v' }],
      },
      /at most 1000 metrics, params, and tags in total/,
    ],
    ['an unknown field', { metrics: [{ ...metric(0), stepp: 1 }] }, /unknown field "stepp"/],
    [
      'a bare string value',
      { metrics: [{ ...metric(0), value: 'nan' }] },
      /"value" must be double/,
    ],
    ['a key MLflow refuses', { metrics: [{ ...metric(0), key: 'a:b' }] }, /names may only contain/],
    [
      'a param value over 6000',
      { params: [{ key: 'p', value: 'x'.repeat(6001) }] },
      /exceeds 6000/,
    ],
    [
      'a body over 1 MB',
      { tags: [{ key: 't', value: 'x'.repeat(1_000_001) }] },
      /at most 1000000 bytes/,
    ],
  ])(
    'refuses a log-batch with %s (400 INVALID_PARAMETER_VALUE, a violation)',
    async (_, fields, message) => {
      const runId = await newRun();
      const { status, json } = await call('POST', 'runs/log-batch', { run_id: runId, ...fields });
      expect(status).toBe(400);
      expect(json.error_code).toBe('INVALID_PARAMETER_VALUE');
      expect(String(json.message)).toMatch(message);
      expect(mlflow.violations).toHaveLength(1);
    },
  );

  it('takes NaN and ±inf as proto JSON strings, keeps params write-once, and refuses a change', async () => {
    const runId = await newRun();
    const values = ['NaN', 'Infinity', '-Infinity'].map((value, step) => ({
      ...metric(step),
      value,
    }));
    expect(
      (
        await call('POST', 'runs/log-batch', {
          run_id: runId,
          metrics: values,
          params: [{ key: 'lr', value: '0.1' }],
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await call('POST', 'runs/log-batch', {
          run_id: runId,
          params: [{ key: 'lr', value: '0.1' }],
        })
      ).status,
    ).toBe(200);
    const changed = await call('POST', 'runs/log-batch', {
      run_id: runId,
      params: [{ key: 'lr', value: '0.2' }],
    });
    expect(changed).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE' } });
    expect(String(changed.json.message)).toMatch(/Changing param values is not allowed/);
    expect(mlflow.history(mlflow.onlyRun(), 'loss').map((point) => point.value)).toEqual([
      'NaN',
      'Infinity',
      '-Infinity',
    ]);
    expect(mlflow.violations).toEqual([]);
  });

  it('answers a wrong token 401 UNAUTHENTICATED, an unknown run 404, and injected faults on schedule', async () => {
    expect(
      (await call('POST', 'experiments/create', { name: 'x' }, 'Bearer wrong')).json.error_code,
    ).toBe('UNAUTHENTICATED');
    expect((await call('POST', 'runs/update', { run_id: 'nope', status: 'FINISHED' })).status).toBe(
      404,
    );
    mlflow.inject({ status: 429, retryAfter: '3' }, { status: 503, path: 'runs/update' });
    const limited = await fetch(
      `${mlflow.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=x`,
      {
        headers: { authorization: 'Bearer t' },
      },
    );
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(await limited.json()).toMatchObject({ error_code: 'REQUEST_LIMIT_EXCEEDED' });
    expect((await call('POST', 'experiments/create', { name: 'x' })).status).toBe(200);
    expect((await call('POST', 'runs/update', { run_id: 'nope' })).json.error_code).toBe(
      'TEMPORARILY_UNAVAILABLE',
    );
    expect(mlflow.faultsLeft).toBe(0);
  });
});
