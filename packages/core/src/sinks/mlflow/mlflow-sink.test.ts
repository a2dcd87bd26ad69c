// The MLflow sink against a fake MLflow tracking server (a real HTTP server built from
// backends.md D, which checks every body): every point arrives once with its step and timestamp,
// params and tags, the final status, through injected 503s and 429s; a 401 stops posting.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type FakeMlflow, startFakeMlflow } from '@livestep/test-support/mlflow';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FlushReport } from '../../pipeline/sink.js';
import { Run } from '../../run/run.js';
import type { StartRunOptions } from '../../run/run-options.js';
import { withRun } from '../../run/start-run.js';
import { createMlflowSink, type MlflowSinkOptions } from './mlflow-sink.js';

const TOKEN = 'mlflow-SECRET-token-0123456789';
const FAST_RETRIES = { initialDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 20 };

let mlflow: FakeMlflow;
let warnings: string[];

beforeEach(async () => {
  mlflow = await startFakeMlflow({ authorization: `Bearer ${TOKEN}` });
  warnings = [];
});

afterEach(async () => {
  await mlflow.close();
});

function sinkOptions(extra: Partial<MlflowSinkOptions> = {}): MlflowSinkOptions {
  return {
    environment: { MLFLOW_TRACKING_URI: mlflow.url, MLFLOW_TRACKING_TOKEN: TOKEN },
    retryPolicy: FAST_RETRIES,
    onWarning: (message) => warnings.push(message),
    sourceName: 'train.mjs',
    ...extra,
  };
}

function runOptions(extra: Partial<StartRunOptions> = {}, sink = sinkOptions()): StartRunOptions {
  return {
    sinks: [createMlflowSink(sink)],
    exitHooks: false,
    collectGit: false,
    experiment: 'iris',
    name: 'bright-owl',
    ...extra,
  };
}

/** Logs `steps` steps of two metrics; returns what was logged, per key. */
function logSteps(run: Run, steps: number): Record<string, number[]> {
  const logged: Record<string, number[]> = { 'train/loss': [], 'train/accuracy': [] };
  for (let step = 0; step < steps; step++) {
    const loss = 1 / (step + 1);
    const accuracy = step / steps;
    run.logMetric('train/loss', loss);
    run.logMetric('train/accuracy', accuracy);
    logged['train/loss']!.push(loss);
    logged['train/accuracy']!.push(accuracy);
    run.nextStep();
  }
  return logged;
}

function expectComplete(report: FlushReport, logged: Record<string, number[]>): void {
  expect(report).toMatchObject({ ok: true, pending: 0, failed: 0 });
  expect(mlflow.violations).toEqual([]);
  const run = mlflow.onlyRun();
  for (const [key, values] of Object.entries(logged)) {
    const history = mlflow.history(run, key);
    expect(history.map((point) => point.value)).toEqual(values);
    expect(history.map((point) => point.step)).toEqual(values.map((_, step) => step));
    for (const point of history) {
      expect(Number.isInteger(point.timestamp)).toBe(true);
      expect(point.timestamp).toBeGreaterThan(1_600_000_000_000);
    }
  }
}

describe('MLflow sink', () => {
  it('refuses a post interval or queue bound that is not one, naming the option and the fix', () => {
    for (const postIntervalMs of [-1, Number.NaN]) {
      expect(() => createMlflowSink(sinkOptions({ postIntervalMs }))).toThrow(
        /postIntervalMs must be a number of milliseconds >= 0/,
      );
    }
    expect(() => createMlflowSink(sinkOptions({ maxQueued: 0 }))).toThrow(
      /maxQueued must be a whole number >= 1/,
    );
  });

  it('records the run: experiment, run name and tags, params once, every point once, FINISHED', async () => {
    const run = new Run(
      runOptions({
        params: { epochs: 3, optimizer: { name: 'adam', lr: 0.01 } },
        tags: ['baseline'],
      }),
    );
    const logged = logSteps(run, 2500);
    run.logParams({ optimizer: { lr: 0.01 }, batchSize: 32 });
    const report = await run.end();
    expectComplete(report, logged);
    const stored = mlflow.onlyRun();
    expect([...mlflow.experiments.values()].map((experiment) => experiment.name)).toEqual(['iris']);
    expect(stored.runName).toBe('bright-owl');
    expect(stored.status).toBe('FINISHED');
    expect(stored.endTime).toBeGreaterThanOrEqual(stored.startTime);
    expect(Object.fromEntries(stored.params)).toEqual({
      epochs: '3',
      'optimizer.name': 'adam',
      'optimizer.lr': '0.01',
      batchSize: '32',
    });
    expect(stored.tags.get('mlflow.runName')).toBe('bright-owl');
    expect(stored.tags.get('mlflow.source.name')).toBe('train.mjs');
    expect(stored.tags.get('mlflow.source.type')).toBe('LOCAL');
    expect(stored.tags.get('livestep.run_id')).toBe(run.id);
    expect(stored.tags.get('livestep.tag.baseline')).toBe('true');
    // 5,000 points in requests of at most 1000 metrics: no more requests than MLflow's own client.
    const batches = mlflow.requests.filter((request) => request.path === 'runs/log-batch');
    expect(batches.length).toBeLessThanOrEqual(10);
    for (const request of mlflow.requests) expect(request.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('goes through 503s, 429s (Retry-After honoured) and a dropped connection, losing and repeating nothing', async () => {
    mlflow.failNext(2, 503);
    mlflow.inject({ status: 429, retryAfter: '0' }, { status: 503, path: 'runs/create' });
    mlflow.failNext(3, 429, { path: 'runs/log-batch', retryAfter: '0' });
    mlflow.failNext(2, 503, { path: 'runs/update' });
    mlflow.inject({ status: 0, path: 'runs/log-batch' });
    const run = new Run(runOptions({ params: { lr: 0.1 } }));
    const logged = logSteps(run, 1200);
    const report = await run.end();
    expectComplete(report, logged);
    expect(mlflow.faultsLeft).toBe(0);
    expect(mlflow.onlyRun().status).toBe('FINISHED');
    expect(mlflow.requests.filter((request) => request.fault).length).toBe(10);
  });

  it("sends 100,000 points in about as many requests as MLflow's own batching (1000 metrics each)", async () => {
    const run = new Run(runOptions());
    const began = Date.now();
    for (let step = 0; step < 50_000; step++) {
      run.logMetric('train/loss', 1 / (step + 1));
      run.logMetric('train/accuracy', step / 50_000);
      run.nextStep();
      if (step % 5_000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const report = await run.end('completed', { timeoutMs: 60_000 });
    const elapsed = Date.now() - began;
    expect(report).toMatchObject({ ok: true, pending: 0, failed: 0 });
    expect(mlflow.onlyRun().metrics).toHaveLength(100_000);
    const batches = mlflow.requests.filter((request) => request.path === 'runs/log-batch');
    // Full requests, plus at most one request that was not full per post interval (1 s).
    expect(batches.length).toBeLessThanOrEqual(100 + Math.ceil(elapsed / 1_000) + 1);
    expect(mlflow.violations).toEqual([]);
  });

  it('gathers points logged slowly: a request that is not full waits out the post interval', async () => {
    const run = new Run({
      ...runOptions({}, sinkOptions({ postIntervalMs: 200 })),
      flushIntervalMs: 5,
    });
    const began = Date.now();
    for (let step = 0; step < 60; step++) {
      run.logMetric('loss', 1 / (step + 1));
      run.nextStep();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const elapsed = Date.now() - began;
    expect((await run.end()).ok).toBe(true);
    expect(mlflow.history(mlflow.onlyRun(), 'loss')).toHaveLength(60);
    // At most one request per interval while logging, and the last one at the end.
    const batches = mlflow.requests.filter((request) => request.path === 'runs/log-batch');
    expect(batches.length).toBeLessThanOrEqual(Math.ceil(elapsed / 200) + 2);
    expect(batches.length).toBeLessThan(60);
  });

  it('ends FAILED (with the error as a tag) when the run throws, and KILLED when interrupted', async () => {
    await expect(
      withRun(runOptions(), (run) => {
        run.logMetric('loss', 0.5);
        throw new Error('out of memory');
      }),
    ).rejects.toThrow('out of memory');
    const failed = mlflow.onlyRun();
    expect(failed.status).toBe('FAILED');
    expect(failed.tags.get('livestep.error')).toBe('Error: out of memory');
    expect(mlflow.history(failed, 'loss').map((point) => point.value)).toEqual([0.5]);

    mlflow.runs.clear();
    const run = new Run(runOptions({ name: 'stopped-run' }));
    run.logMetric('loss', 0.25);
    await run.end('interrupted');
    expect(mlflow.onlyRun()).toMatchObject({ status: 'KILLED', runName: 'stopped-run' });
    // The second run found the experiment the first one created.
    expect(mlflow.experiments.size).toBe(1);
  });

  it('sends NaN and ±inf as MLflow parses them, and cuts a long param value with a warning', async () => {
    const run = new Run(runOptions({ params: { notes: 'n'.repeat(7000) } }));
    run.logMetric('loss', Number.NaN);
    run.nextStep();
    run.logMetric('loss', Number.POSITIVE_INFINITY);
    run.nextStep();
    run.logMetric('loss', Number.NEGATIVE_INFINITY);
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(mlflow.violations).toEqual([]);
    const stored = mlflow.onlyRun();
    expect(mlflow.history(stored, 'loss').map((point) => point.value)).toEqual([
      'NaN',
      'Infinity',
      '-Infinity',
    ]);
    expect(stored.params.get('notes')).toHaveLength(6000);
    expect(warnings.join('\n')).toMatch(
      /param value "notes" is 7000 characters; MLflow takes at most 6000/,
    );
  });

  it('warns that a param logged again with another value cannot be changed, and keeps the first', async () => {
    const run = new Run(runOptions({ params: { lr: 0.1 } }));
    run.logMetric('loss', 1);
    await run.flush();
    run.logParams({ lr: 0.01 });
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(mlflow.violations).toEqual([]);
    expect(mlflow.onlyRun().params.get('lr')).toBe('0.1');
    expect(warnings.join('\n')).toMatch(
      /param "lr" was logged again with a different value \("0.1" then "0.01"\); MLflow params are write-once/,
    );
  });

  it('stops posting on a 401 with a message naming MLFLOW_TRACKING_TOKEN, never the token, and never blocks the run', async () => {
    const run = new Run(runOptions());
    run.logMetric('loss', 1);
    await run.flush();
    mlflow.failNext(1, 401, { message: `token ${TOKEN} expired` });
    run.nextStep();
    run.logMetric('loss', 2);
    const flushed = await run.flush({ timeoutMs: 5_000 });
    expect(flushed.ok).toBe(false);
    run.logMetric('loss', 3);
    const report = await run.end();
    expect(report.ok).toBe(false);
    const sink = report.sinks.find((entry) => entry.sink.startsWith('mlflow:'))!;
    expect(sink.pending).toBe(0);
    expect(sink.failed).toBeGreaterThanOrEqual(3);
    expect(sink.lastError).toMatch(
      /MLflow refused the credentials \(401 UNAUTHENTICATED.*MLFLOW_TRACKING_TOKEN/,
    );
    const shown = `${JSON.stringify(report)}\n${warnings.join('\n')}`;
    expect(shown).toContain('MLFLOW_TRACKING_TOKEN');
    expect(shown).not.toContain(TOKEN);
    // Nothing was posted after the refusal: the run stays RUNNING with the first point.
    const requestsAfter = mlflow.requests.slice(
      mlflow.requests.findIndex((request) => request.status === 401) + 1,
    );
    expect(requestsAfter).toEqual([]);
    expect(mlflow.history(mlflow.onlyRun(), 'loss').map((point) => point.value)).toEqual([1]);
  });

  it('counts the end of the run as failed too when posting stops with it still queued', async () => {
    mlflow.failNext(1, 401, { path: 'runs/log-batch' });
    const run = new Run(runOptions());
    run.logMetric('loss', 1);
    run.logMetric('accuracy', 0.5);
    const report = await run.end();
    const sink = report.sinks.find((entry) => entry.sink.startsWith('mlflow:'))!;
    // The start reached MLflow (runs/create); both points and the end did not.
    expect(sink).toMatchObject({ pending: 0, failed: 3, failedByReason: { rejected: 3 } });
  });

  it('says in the report what it could not deliver when MLflow is down past the deadline', async () => {
    const down = 'http://127.0.0.1:9';
    const run = new Run(
      runOptions(
        {},
        sinkOptions({ environment: { MLFLOW_TRACKING_URI: down }, requestTimeoutMs: 200 }),
      ),
    );
    run.logMetric('loss', 1);
    run.logMetric('acc', 0.5);
    const report = await run.end('completed', { timeoutMs: 1_500 });
    const sink = report.sinks.find((entry) => entry.sink.startsWith('mlflow:'))!;
    expect(report.ok).toBe(false);
    expect(sink.pending).toBe(0);
    expect(sink.failed).toBeGreaterThanOrEqual(3);
    expect(sink.lastError).toMatch(/cannot reach|ECONNREFUSED/);
    expect(warnings.join('\n')).toMatch(
      /the run ended before MLflow took \d+ events.*livestep sync <run folder> --to mlflow/,
    );
  });

  it("names the wait a request really had when the run's end deadline cut its timeout short", async () => {
    // A server that takes the connection and never answers: every request times out.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const run = new Run(
        runOptions(
          {},
          sinkOptions({ environment: { MLFLOW_TRACKING_URI: url }, requestTimeoutMs: 10_000 }),
        ),
      );
      run.logMetric('loss', 1);
      const report = await run.end('completed', { timeoutMs: 1_200 });
      expect(report.ok).toBe(false);
      const said = warnings.join('\n');
      // The request was cut by the end (its timeout, or the stop at the deadline, whichever fired
      // first): said as such, never as the configured 10,000 ms it did not have.
      expect(said).toMatch(
        /the run ended before MLflow took 2 events \(last error: no answer (within \d+ ms|before the deadline)\)/,
      );
      const waited = [...said.matchAll(/no answer within (\d+) ms/g)].map((match) =>
        Number(match[1]),
      );
      for (const milliseconds of waited) expect(milliseconds).toBeLessThanOrEqual(1_200);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('takes a close deadline with a fraction of a millisecond (AbortSignal.timeout refuses one)', async () => {
    const sink = createMlflowSink(
      sinkOptions({
        environment: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:9' },
        requestTimeoutMs: 200,
      }),
    );
    const run = { id: '00000000-0000-4000-8000-000000000001', experiment: 'e', name: 'n' };
    await sink.send({
      protocol: 1,
      run,
      events: [
        {
          id: '00000000-0000-4000-8000-000000000002',
          seq: 0,
          ts: Date.now(),
          kind: 'metric',
          name: 'loss',
          value: 1,
          step: 0,
        },
        {
          id: '00000000-0000-4000-8000-000000000003',
          seq: 1,
          ts: Date.now(),
          kind: 'done',
          status: 'completed',
        },
      ],
    });
    await sink.close?.({ deadline: Date.now() + 800.5 });
    const state = sink.report?.();
    expect(state?.lastError).toMatch(/cannot reach|ECONNREFUSED/);
    expect(state?.lastError).not.toMatch(/out of range/);
  });

  it('creates the experiment from MLFLOW_EXPERIMENT_NAME once (its lookup retried after a 503), and a second run finds it', async () => {
    const environment = {
      MLFLOW_TRACKING_URI: mlflow.url,
      MLFLOW_TRACKING_TOKEN: TOKEN,
      MLFLOW_EXPERIMENT_NAME: 'shared',
    };
    mlflow.inject({ status: 503, path: 'experiments/get-by-name' });
    const first = new Run(runOptions({}, sinkOptions({ environment })));
    first.logMetric('loss', 1);
    expect((await first.end()).ok).toBe(true);
    const second = new Run(runOptions({ name: 'second' }, sinkOptions({ environment })));
    second.logMetric('loss', 2);
    expect((await second.end()).ok).toBe(true);
    expect([...mlflow.experiments.values()].map((experiment) => experiment.name)).toEqual([
      'shared',
    ]);
    expect(mlflow.runs.size).toBe(2);
    expect(mlflow.violations).toEqual([]);
  });
});
