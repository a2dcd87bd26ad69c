// The Dioptra sink against a fake Dioptra (a real HTTP server built from backends.md B, which
// checks every body): every point arrives once with its step and timestamp, in order, NaN and
// ±inf as Dioptra's strings, through injected 503s, 429s and an expired session (logged in again
// once); a refused login or a second 401 stops posting; nothing shown carries the password or
// the cookies.

import { type FakeDioptra, startFakeDioptra } from '@livestep/test-support/dioptra';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FlushReport } from '../../pipeline/sink.js';
import { Run } from '../../run/run.js';
import type { StartRunOptions } from '../../run/run-options.js';
import { decodeDioptraName } from './dioptra-names.js';
import { createDioptraSink, type DioptraSinkOptions } from './dioptra-sink.js';

const PASSWORD = 'dioptra-SECRET-password-0123456789';
const JOB = 7;
const FAST_RETRIES = { initialDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 20 };

let dioptra: FakeDioptra;
let warnings: string[];

beforeEach(async () => {
  dioptra = await startFakeDioptra({ users: { worker: PASSWORD }, jobs: [JOB] });
  warnings = [];
});

afterEach(async () => {
  await dioptra.close();
});

function sinkOptions(extra: Partial<DioptraSinkOptions> = {}): DioptraSinkOptions {
  return {
    environment: {
      DIOPTRA_API: dioptra.url,
      DIOPTRA_JOB_ID: String(JOB),
      DIOPTRA_USERNAME: 'worker',
      DIOPTRA_PASSWORD: PASSWORD,
    },
    retryPolicy: FAST_RETRIES,
    maxRequestsPerSecond: Number.POSITIVE_INFINITY,
    onWarning: (message) => warnings.push(message),
    ...extra,
  };
}

function runOptions(sink = sinkOptions()): StartRunOptions {
  return {
    sinks: [createDioptraSink(sink)],
    exitHooks: false,
    collectGit: false,
    experiment: 'iris',
    name: 'bright-owl',
  };
}

/** Logs `steps` steps of two metrics; returns what was logged, per series. */
function logSteps(run: Run, steps: number): Record<string, number[]> {
  const logged: Record<string, number[]> = { 'train/loss': [], 'train/precision/class=setosa': [] };
  for (let step = 0; step < steps; step++) {
    const loss = 1 / (step + 1);
    const precision = step / steps;
    run.logMetric('train/loss', loss);
    run.logMetric('train/precision', precision, { labels: { class: 'setosa' } });
    logged['train/loss']!.push(loss);
    logged['train/precision/class=setosa']!.push(precision);
    run.nextStep();
  }
  return logged;
}

/** Every point once, in order, with its step and an ISO timestamp; no violations. */
function expectComplete(report: FlushReport, logged: Record<string, unknown[]>): void {
  expect(report).toMatchObject({ ok: true, pending: 0, failed: 0 });
  expect(dioptra.violations).toEqual([]);
  const points = dioptra.points(JOB);
  expect(new Set(points.map((point) => decodeDioptraName(point.name)))).toEqual(
    new Set(Object.keys(logged)),
  );
  for (const [series, values] of Object.entries(logged)) {
    const history = points.filter((point) => decodeDioptraName(point.name) === series);
    expect(history.map((point) => point.value)).toEqual(values);
    expect(history.map((point) => point.step)).toEqual(values.map((_, step) => step));
    for (const point of history) {
      expect(point.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(Date.parse(point.timestamp)).toBeGreaterThan(1_600_000_000_000);
    }
  }
}

describe('Dioptra sink', () => {
  it('logs in once and posts every point once, in order, with step and timestamp', async () => {
    const run = new Run({ ...runOptions(), params: { lr: 0.1 } });
    const logged = logSteps(run, 300);
    const report = await run.end();
    expectComplete(report, logged);
    expect(dioptra.logins).toEqual(['worker']);
    expect(dioptra.maxConcurrent).toBe(1);
    expect(dioptra.points(JOB).map((point) => point.name)).toContain(
      'train__precision__class_2setosa',
    );
    // The order of logging is the order of arrival.
    expect(
      dioptra
        .points(JOB)
        .slice(0, 4)
        .map((point) => point.name),
    ).toEqual([
      'train__loss',
      'train__precision__class_2setosa',
      'train__loss',
      'train__precision__class_2setosa',
    ]);
    // The session cookies on every metric request; the password only in the login body.
    for (const request of dioptra.requests) {
      if (request.endpoint === 'metrics')
        expect(request.cookie).toMatch(
          /session=.*dioptra_remember_token=|dioptra_remember_token=.*session=/,
        );
      if (request.endpoint !== 'login') expect(request.raw).not.toContain(PASSWORD);
    }
    expect(warnings.join('\n')).toMatch(/params events are not sent to Dioptra/);
  });

  it('sends NaN and ±inf as "nan", "inf", "-inf"', async () => {
    const run = new Run(runOptions());
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.5]) {
      run.logMetric('loss', value);
      run.nextStep();
    }
    expectComplete(await run.end(), { loss: ['nan', 'inf', '-inf', 0.5] });
  });

  it('goes through 503s, 429s (Retry-After), a dropped connection and an expired session (logged in again once), losing and repeating nothing', async () => {
    dioptra.inject(
      { status: 503, path: 'login' },
      { status: 429, path: 'metrics', retryAfter: '0' },
      { status: 503, path: 'metrics', after: 10 },
      { expireSession: true, path: 'metrics', after: 50 },
      { status: 429, path: 'metrics', after: 120 },
      { status: 0, path: 'metrics', after: 150 },
    );
    const run = new Run(runOptions());
    const logged = logSteps(run, 100);
    const report = await run.end('completed', { timeoutMs: 30_000 });
    expectComplete(report, logged);
    expect(dioptra.faultsLeft).toBe(0);
    expect(dioptra.logins).toEqual(['worker', 'worker']);
    expect(dioptra.requests.filter((request) => request.status === 401)).toHaveLength(1);
  });

  it('stops posting at a second 401 after logging in again, naming the variables, never the password or the cookie', async () => {
    dioptra.inject(
      { expireSession: true, path: 'metrics', after: 1 },
      { expireSession: true, path: 'metrics', after: 1 },
    );
    const run = new Run(runOptions());
    run.logMetric('loss', 1);
    run.nextStep();
    run.logMetric('loss', 2);
    run.nextStep();
    run.logMetric('loss', 3);
    const report = await run.end('completed', { timeoutMs: 10_000 });
    expect(report.ok).toBe(false);
    const sink = report.sinks.find((entry) => entry.sink.startsWith('dioptra:'))!;
    expect(sink).toMatchObject({ pending: 0, failed: 2 });
    expect(sink.lastError).toMatch(
      /Dioptra refused the session \(401.*DIOPTRA_USERNAME and DIOPTRA_PASSWORD/,
    );
    expect(dioptra.logins).toHaveLength(2);
    const refusedAt = dioptra.requests.findLastIndex((request) => request.status === 401);
    expect(dioptra.requests.slice(refusedAt + 1)).toEqual([]);
    const shown = `${JSON.stringify(report)}\n${warnings.join('\n')}`;
    expect(shown).not.toContain(PASSWORD);
    for (const request of dioptra.requests) {
      for (const pair of (request.cookie ?? '').split('; ').filter(Boolean)) {
        expect(shown).not.toContain(pair.split('=')[1]);
      }
    }
    expect(dioptra.points(JOB).map((point) => point.value)).toEqual([1]);
  });

  it('stops at a refused login with a message naming the variables, and training goes on', async () => {
    const run = new Run(
      runOptions(
        sinkOptions({
          environment: {
            DIOPTRA_API: dioptra.url,
            DIOPTRA_JOB_ID: String(JOB),
            DIOPTRA_WORKER_USERNAME: 'worker',
            DIOPTRA_WORKER_PASSWORD: 'wrong-password',
          },
        }),
      ),
    );
    run.logMetric('loss', 1);
    const report = await run.end('completed', { timeoutMs: 5_000 });
    const sink = report.sinks.find((entry) => entry.sink.startsWith('dioptra:'))!;
    expect(sink).toMatchObject({ pending: 0, failed: 1 });
    expect(sink.lastError).toMatch(
      /Dioptra refused the login \(401: Unauthorized: The password is incorrect.\); check DIOPTRA_WORKER_USERNAME and DIOPTRA_WORKER_PASSWORD/,
    );
    expect(JSON.stringify(report)).not.toContain('wrong-password');
    expect(dioptra.requests.filter((request) => request.endpoint === 'metrics')).toEqual([]);
  });

  it('posts without a login to a Dioptra with login disabled, and a 404 job stops posting naming DIOPTRA_JOB_ID', async () => {
    const open = await startFakeDioptra({ loginDisabled: true, jobs: [3] });
    try {
      const environment = { DIOPTRA_API: `${open.url}/api/v1/`, DIOPTRA_JOB_ID: '3' };
      const run = new Run(runOptions(sinkOptions({ environment })));
      run.logMetric('loss', 1);
      expect((await run.end()).ok).toBe(true);
      expect(open.points(3).map((point) => point.name)).toEqual(['loss']);
      expect(open.logins).toEqual([]);

      const wrong = new Run(
        runOptions(sinkOptions({ environment: { ...environment, DIOPTRA_JOB_ID: '4' } })),
      );
      wrong.logMetric('loss', 1);
      wrong.logMetric('acc', 1);
      const report = await wrong.end();
      const sink = report.sinks.find((entry) => entry.sink.startsWith('dioptra:'))!;
      expect(sink).toMatchObject({ pending: 0, failed: 2 });
      expect(sink.lastError).toMatch(/404.*no job 4 \(check DIOPTRA_JOB_ID\)/);
    } finally {
      await open.close();
    }
  });

  it('warns once that a name logged twice at one step is kept once by Dioptra, and still sends both', async () => {
    const run = new Run(runOptions());
    run.logMetric('loss', 1);
    run.logMetric('loss', 2);
    expect((await run.end()).ok).toBe(true);
    expect(dioptra.points(JOB).map((point) => point.value)).toEqual([1, 2]);
    expect(dioptra.table.get(JOB)?.size).toBe(1);
    expect(warnings.join('\n')).toMatch(
      /"loss" was logged more than once at step 0; Dioptra keeps one value per name and step/,
    );
  });

  it('does not call a point logged at an earlier step a repeat (an evaluation at an older step)', async () => {
    const run = new Run(runOptions());
    run.logMetric('eval/loss', 1, { step: 5 });
    run.logMetric('eval/loss', 2, { step: 3 });
    expect((await run.end()).ok).toBe(true);
    expect(dioptra.points(JOB).map((point) => point.value)).toEqual([1, 2]);
    expect(warnings.join('\n')).not.toMatch(/logged more than once/);
  });

  it('refuses a rate or queue bound that is not one, naming the option and the fix', () => {
    for (const maxRequestsPerSecond of [0, -5, Number.NaN]) {
      expect(() => createDioptraSink(sinkOptions({ maxRequestsPerSecond }))).toThrow(
        /maxRequestsPerSecond must be a number > 0 \(Infinity for no bound\)/,
      );
    }
    expect(() => createDioptraSink(sinkOptions({ maxQueued: 0 }))).toThrow(
      /maxQueued must be a whole number >= 1/,
    );
  });

  it('bounds its rate: one request at a time, at most maxRequestsPerSecond', async () => {
    const run = new Run(runOptions(sinkOptions({ maxRequestsPerSecond: 50 })));
    for (let step = 0; step < 20; step++) {
      run.logMetric('loss', step);
      run.nextStep();
    }
    const began = Date.now();
    expect((await run.flush({ timeoutMs: 30_000 })).ok).toBe(true);
    // 20 points at 50 a second take at least 19 intervals of 20 ms (a lower bound, not a timing).
    expect(Date.now() - began).toBeGreaterThanOrEqual(19 * 20 - 5);
    await run.end();
    expect(dioptra.points(JOB)).toHaveLength(20);
    expect(dioptra.maxConcurrent).toBe(1);
  });

  it('says in the report what it could not deliver when Dioptra is down past the deadline', async () => {
    const run = new Run(
      runOptions(
        sinkOptions({
          environment: { DIOPTRA_API: 'http://127.0.0.1:9', DIOPTRA_JOB_ID: '1' },
          requestTimeoutMs: 200,
        }),
      ),
    );
    run.logMetric('loss', 1);
    run.logMetric('acc', 0.5);
    const report = await run.end('completed', { timeoutMs: 1_500 });
    const sink = report.sinks.find((entry) => entry.sink.startsWith('dioptra:'))!;
    expect(report.ok).toBe(false);
    expect(sink).toMatchObject({ pending: 0, failed: 2 });
    expect(sink.lastError).toMatch(/cannot reach|ECONNREFUSED|no answer within/);
    expect(warnings.join('\n')).toMatch(/the run ended before Dioptra took 2 metric points/);
  });
});
