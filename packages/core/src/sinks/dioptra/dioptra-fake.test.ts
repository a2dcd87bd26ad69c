/**
 * The fake Dioptra the sink is tested against refuses what Dioptra refuses (backends.md B), with
 * Dioptra's error bodies, and records each refusal as a violation: otherwise "no violations" in
 * the sink's tests would prove nothing.
 */

import { type FakeDioptra, startFakeDioptra } from '@livestep/test-support/dioptra';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dioptra: FakeDioptra;

beforeEach(async () => {
  dioptra = await startFakeDioptra({ users: { worker: 'pw' }, jobs: [7] });
});

afterEach(async () => {
  await dioptra.close();
});

async function call(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  cookie?: string,
): Promise<{ status: number; json: unknown; setCookies: string[] }> {
  const response = await fetch(`${dioptra.url}/api/v1/${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(cookie !== undefined && { cookie }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return {
    status: response.status,
    json: await response.json(),
    setCookies: response.headers.getSetCookie(),
  };
}

async function login(): Promise<string> {
  const { setCookies } = await call('POST', 'auth/login', { username: 'worker', password: 'pw' });
  return setCookies.map((header) => header.split(';')[0]).join('; ');
}

const point = { name: 'train__loss', value: 0.5, step: 1, timestamp: '2026-12-01T14:00:00.000Z' };

describe('the fake Dioptra', () => {
  it('logs in with a session and a remember cookie; a bad password or user is 401 with Dioptra’s body', async () => {
    const ok = await call('POST', 'auth/login', { username: 'worker', password: 'pw' });
    expect(ok.json).toEqual({ username: 'worker', status: 'Login successful' });
    expect(ok.setCookies.map((header) => header.split('=')[0])).toEqual([
      'dioptra_remember_token',
      'session',
    ]);
    const bad = await call('POST', 'auth/login', { username: 'worker', password: 'no' });
    expect(bad.status).toBe(401);
    expect(bad.json).toMatchObject({
      error: 'UserPasswordError',
      originating_path: '/api/v1/auth/login',
    });
    expect((await call('POST', 'auth/login', { username: 'x', password: 'pw' })).status).toBe(401);
    expect(dioptra.violations).toEqual([]);
  });

  it('wants a session for metrics, upserts on (name, step), and serves latest and snapshots', async () => {
    expect((await call('POST', 'jobs/7/metrics', point)).status).toBe(401);
    const cookie = await login();
    expect((await call('POST', 'jobs/7/metrics', point, cookie)).json).toEqual({
      name: 'train__loss',
      value: 0.5,
    });
    await call('POST', 'jobs/7/metrics', { ...point, step: 2, value: 'nan' }, cookie);
    await call('POST', 'jobs/7/metrics', { ...point, step: 1, value: 0.25 }, cookie);
    expect((await call('GET', 'jobs/7/metrics', undefined, cookie)).json).toEqual([
      { name: 'train__loss', value: 'nan' },
    ]);
    const page = await call(
      'GET',
      'jobs/7/metrics/train__loss/snapshots?pageLength=1000',
      undefined,
      cookie,
    );
    expect(page.json).toMatchObject({ index: 0, isComplete: true, totalNumResults: 2 });
    expect((page.json as { data: unknown[] }).data).toEqual([
      { ...point, value: 0.25 },
      { ...point, step: 2, value: 'nan' },
    ]);
    expect(dioptra.points(7)).toHaveLength(3);
    expect((await call('POST', 'jobs/8/metrics', point, cookie)).status).toBe(404);
    expect(dioptra.violations).toEqual([]);
  });

  it.each([
    ['a name with a slash', { ...point, name: 'train/loss' }, /name: String does not match/],
    ['a lone _', { ...point, name: '_' }, /name: String does not match/],
    ['a digit first', { ...point, name: '1a' }, /name: String does not match/],
    ['no name', { value: 1 }, /name: Missing data/],
    ['"NaN"', { ...point, value: 'NaN' }, /value: Not a valid number/],
    ['a string number', { ...point, value: '0.5' }, /value: Not a valid number/],
    ['true', { ...point, value: true }, /value: Not a valid number/],
    ['a fractional step', { ...point, step: 1.5 }, /step: Not a valid integer/],
    ['epoch milliseconds for a timestamp', { ...point, timestamp: 1764597600000 }, /timestamp/],
    ['an unknown field', { ...point, metricName: 'x' }, /metricName: Unknown field/],
  ])('refuses %s (400, a violation)', async (_, body, message) => {
    const cookie = await login();
    const { status, json } = await call('POST', 'jobs/7/metrics', body, cookie);
    expect(status).toBe(400);
    expect(json).toMatchObject({ error: 'BadRequest' });
    expect(String((json as { message: string }).message)).toMatch(message);
    expect(dioptra.violations).toHaveLength(1);
  });

  it('injects 429 (Retry-After), 503 and an expired session on schedule', async () => {
    const cookie = await login();
    dioptra.inject(
      { status: 429, path: 'metrics', retryAfter: '2' },
      { status: 503, path: 'metrics' },
      { expireSession: true, path: 'metrics', after: 3 },
    );
    const limited = await fetch(`${dioptra.url}/api/v1/jobs/7/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify(point),
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect((await call('POST', 'jobs/7/metrics', point, cookie)).status).toBe(503);
    expect((await call('POST', 'jobs/7/metrics', point, cookie)).status).toBe(200);
    const expired = await call('POST', 'jobs/7/metrics', point, cookie);
    expect(expired.status).toBe(401);
    expect((await call('POST', 'jobs/7/metrics', point, cookie)).status).toBe(401);
    expect((await call('POST', 'jobs/7/metrics', point, await login())).status).toBe(200);
    expect(dioptra.faultsLeft).toBe(0);
  });
});
