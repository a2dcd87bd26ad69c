// The ClearML sink against a fake ClearML API server and file server (real HTTP servers built
// from backends.md A, which check every body): a run becomes one training task in its project,
// every point once under the documented metric/variant split, params as hyperparams, plots as
// Plotly, images uploaded, annotations as logs, the final status; through injected 503s and 429s
// and an expired token. Refused keys stop posting; no secret appears in any message.

import { type FakeClearml, startFakeClearml } from '@livestep/test-support/clearml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Run } from '../../run/run.js';
import type { StartRunOptions } from '../../run/run-options.js';
import { type ClearmlSinkOptions, createClearmlSink } from './clearml-sink.js';

const SECRET = 'clearml-SECRET-key-0123456789abcdef';
const FAST_RETRIES = { initialDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 20 };
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082',
  'hex',
);

let clearml: FakeClearml;
let warnings: string[];
let links: string[];

beforeEach(async () => {
  clearml = await startFakeClearml({ accessKey: 'AK-test', secretKey: SECRET });
  warnings = [];
  links = [];
});

afterEach(async () => {
  await clearml.close();
});

function sinkOptions(extra: Partial<ClearmlSinkOptions> = {}): ClearmlSinkOptions {
  return {
    environment: {
      CLEARML_API_HOST: clearml.url,
      CLEARML_FILES_HOST: clearml.filesUrl,
      CLEARML_WEB_HOST: 'http://127.0.0.1:8080',
      CLEARML_API_ACCESS_KEY: 'AK-test',
      CLEARML_API_SECRET_KEY: SECRET,
    },
    retryPolicy: FAST_RETRIES,
    postIntervalMs: 0,
    onWarning: (message) => warnings.push(message),
    onTaskLink: (url) => links.push(url),
    ...extra,
  };
}

function startRun(extra: Partial<StartRunOptions> = {}, sink = sinkOptions()): Run {
  return new Run({
    sinks: [createClearmlSink(sink)],
    exitHooks: false,
    collectGit: false,
    experiment: 'iris',
    name: 'bright-owl',
    ...extra,
  });
}

function logSteps(run: Run, steps: number): { loss: number[]; accuracy: number[] } {
  const loss: number[] = [];
  const accuracy: number[] = [];
  for (let step = 0; step < steps; step++) {
    loss.push(1 / (step + 1));
    accuracy.push(step / steps);
    run.logMetric('train/loss', loss[step]!);
    run.logMetric('eval/accuracy', accuracy[step]!);
    run.nextStep();
  }
  return { loss, accuracy };
}

function expectNoSecret(): void {
  const token = clearml.logins.map((login) => login.token);
  for (const message of warnings) {
    expect(message).not.toContain(SECRET);
    for (const issued of token) expect(message).not.toContain(issued);
  }
}

describe('ClearML sink', () => {
  it('records a run as a training task: scalars, hyperparams, plots, images, logs and the status', async () => {
    const run = startRun({ params: { lr: 0.05, model: { units: 8 } }, tags: ['baseline'] });
    const logged = logSteps(run, 30);
    run.logParam('optimizer', 'adam');
    run.logPlot('eval/confusion', {
      kind: 'confusion',
      rows: [
        { actual: 'setosa', predicted: 'setosa', count: 9 },
        { actual: 'virginica', predicted: 'setosa', count: 1 },
      ],
    });
    run.logPlot('eval/roc', {
      kind: 'roc',
      rows: [
        { fpr: 0, tpr: 0 },
        { fpr: 1, tpr: 1 },
      ],
    });
    run.logImage('samples/digit', PNG, { step: 3 });
    run.annotate('checkpoint saved', { level: 'warning', step: 12 });
    const report = await run.end();

    expect(report).toMatchObject({ ok: true, pending: 0, failed: 0 });
    expect(clearml.violations).toEqual([]);
    const task = clearml.onlyTask();
    expect(task).toMatchObject({ name: 'bright-owl', type: 'training', status: 'completed' });
    expect(task.tags).toEqual(['baseline']);
    expect(clearml.projects.get(task.project!)?.name).toBe('iris');
    expect(task.transitions.map((transition) => transition.to)).toEqual([
      'in_progress',
      'completed',
    ]);
    expect(clearml.scalars(task.id, 'train', 'loss')).toEqual(
      logged.loss.map((value, iter) => ({ iter, value })),
    );
    expect(clearml.scalars(task.id, 'eval', 'accuracy')).toEqual(
      logged.accuracy.map((value, iter) => ({ iter, value })),
    );
    expect(clearml.scalarArrivals(task.id)).toHaveLength(60);
    const general = clearml.hyperparams(task.id).General ?? {};
    expect(
      Object.fromEntries(Object.entries(general).map(([name, param]) => [name, param.value])),
    ).toEqual({
      lr: '0.05',
      'model/units': '8',
      optimizer: 'adam',
    });
    const plots = clearml.plots(task.id);
    const confusion = plots.find((plot) => plot.variant === 'confusion');
    expect(confusion?.metric).toBe('eval');
    expect(JSON.parse(confusion!.plot_str).data[0]).toMatchObject({
      type: 'heatmap',
      z: [
        [9, 0],
        [1, 0],
      ],
    });
    expect(plots.map((plot) => plot.variant).sort()).toEqual(['confusion', 'roc']);
    const [image] = clearml.images(task.id);
    expect(image).toMatchObject({ metric: 'samples', variant: 'digit', iter: 3 });
    expect(clearml.fileServer.file(image!.key!)?.equals(PNG)).toBe(true);
    expect((await fetch(image!.url!)).status).toBe(200);
    expect(clearml.logs(task.id).map((log) => [log.level, log.msg])).toEqual([
      ['warning', '[step 12] checkpoint saved'],
    ]);
    expect(links).toEqual([
      `http://127.0.0.1:8080/projects/${task.project}/experiments/${task.id}/output/log`,
    ]);
    const batches = clearml.requests.filter((request) => request.path === 'events.add_batch');
    for (const request of batches) expect(request.contentType).toBe('application/json-lines');
    expectNoSecret();
  });

  it('delivers points while the run is still training, without a flush or the end', async () => {
    const run = startRun({}, sinkOptions({ postIntervalMs: 50 }));
    let step = 0;
    const deadline = Date.now() + 10_000;
    let seen = 0;
    // A loop that logs and yields, as training does; ClearML is read while it goes on.
    while (Date.now() < deadline) {
      run.logMetric('train/loss', 1 / (step + 1), { step });
      step++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      const task = [...clearml.tasks.values()][0];
      seen = task === undefined ? 0 : clearml.scalars(task.id, 'train', 'loss').length;
      if (seen >= 5) break;
    }
    expect(seen).toBeGreaterThanOrEqual(5);
    expect(run.ended).toBe(false);
    expect(clearml.status(clearml.onlyTask().id)).toBe('in_progress');
    await run.end();
    expect(clearml.scalars(clearml.onlyTask().id, 'train', 'loss')).toHaveLength(step);
  });

  it('puts every point in once through 503s, 429s and an expired token', async () => {
    const run = startRun();
    const first = logSteps(run, 20);
    clearml.failNext(2, 503, { path: 'events.add_batch', retryAfter: '0' });
    clearml.failNext(1, 429, { path: 'events.add_batch', retryAfter: '0' });
    await run.flush();
    clearml.expireTokens();
    for (let step = 20; step < 40; step++) {
      run.logMetric('train/loss', 1 / (step + 1));
      run.logMetric('eval/accuracy', step / 20);
      run.nextStep();
    }
    const report = await run.end();

    expect(report).toMatchObject({ ok: true, failed: 0 });
    expect(clearml.faultsLeft).toBe(0);
    expect(clearml.violations).toEqual([]);
    expect(clearml.logins.length).toBe(2);
    const task = clearml.onlyTask();
    const loss = clearml.scalars(task.id, 'train', 'loss');
    expect(loss.map((point) => point.iter)).toEqual([...Array(40).keys()]);
    expect(loss.slice(0, 20).map((point) => point.value)).toEqual(first.loss);
    expect(clearml.status(task.id)).toBe('completed');
    expect(clearml.requests.some((request) => request.status === 401)).toBe(true);
    expectNoSecret();
  });

  it('leaves NaN and infinity out (warned once), or sends the substitute asked for', async () => {
    const run = startRun();
    run.logMetric('train/loss', 0.5);
    run.logMetric('train/loss', Number.NaN, { step: 1 });
    run.logMetric('train/loss', Number.POSITIVE_INFINITY, { step: 2 });
    run.logMetric('train/loss', 0.25, { step: 3 });
    const report = await run.end();
    const task = clearml.onlyTask();
    expect(clearml.scalars(task.id, 'train', 'loss')).toEqual([
      { iter: 0, value: 0.5 },
      { iter: 3, value: 0.25 },
    ]);
    // Left out by ClearML's data model, not lost in delivery: the report stays ok.
    expect(report).toMatchObject({ ok: true, failed: 0 });
    expect(warnings.filter((message) => /NaN or infinite/.test(message))).toHaveLength(1);
    expect(clearml.violations).toEqual([]);

    const substituted = startRun({ name: 'second' }, sinkOptions({ nonFiniteValue: -1 }));
    substituted.logMetric('train/loss', Number.NaN);
    expect(await substituted.end()).toMatchObject({ ok: true });
    const second = [...clearml.tasks.values()].find((candidate) => candidate.name === 'second')!;
    expect(clearml.scalars(second.id, 'train', 'loss')).toEqual([{ iter: 0, value: -1 }]);
    expect(() => createClearmlSink(sinkOptions({ nonFiniteValue: Number.NaN }))).toThrow(
      /nonFiniteValue must be 'skip' or a finite number/,
    );
  });

  it('marks a failed run failed, an interrupted one stopped, with the error as a log line', async () => {
    const failed = startRun({ name: 'crashes' });
    failed.logMetric('train/loss', 1);
    await failed.end('failed', { error: new RangeError('loss exploded') });
    const interrupted = startRun({ name: 'ctrl-c' });
    interrupted.logMetric('train/loss', 1);
    await interrupted.end('interrupted');
    const byName = new Map([...clearml.tasks.values()].map((task) => [task.name, task]));
    expect(byName.get('crashes')).toMatchObject({
      status: 'failed',
      status_message: 'RangeError: loss exploded',
    });
    expect(clearml.logs(byName.get('crashes')!.id)[0]).toMatchObject({ level: 'error' });
    expect(clearml.logs(byName.get('crashes')!.id)[0]?.msg).toMatch(/^RangeError: loss exploded/);
    expect(byName.get('ctrl-c')?.status).toBe('stopped');
    // Both runs went into one project, found by its exact name the second time.
    expect(clearml.projects.size).toBe(1);
    expect(clearml.violations).toEqual([]);
  });

  it('gathers points into few requests: one add_batch per post interval, split below the size limit', async () => {
    const run = startRun({}, sinkOptions({ postIntervalMs: 60_000, maxRequestBytes: 64 * 1024 }));
    for (let step = 0; step < 3000; step++) run.logMetric('train/loss', step, { step });
    const report = await run.end();
    expect(report).toMatchObject({ ok: true, failed: 0 });
    const batches = clearml.requests.filter((request) => request.path === 'events.add_batch');
    expect(batches.length).toBeGreaterThan(1);
    for (const request of batches) expect(request.bytes).toBeLessThanOrEqual(64 * 1024);
    // ~150 bytes a point: 3000 points are about 7 requests of 64 KiB, far fewer than the SDK's
    // one per 100 events (30).
    expect(batches.length).toBeLessThan(15);
    expect(clearml.scalars(clearml.onlyTask().id, 'train', 'loss')).toHaveLength(3000);
  });

  it('stops posting when the keys are refused, naming the variables, without the secret', async () => {
    const run = startRun(
      {},
      sinkOptions({
        environment: {
          CLEARML_API_HOST: clearml.url,
          CLEARML_API_ACCESS_KEY: 'AK-test',
          CLEARML_API_SECRET_KEY: `${SECRET}-wrong`,
        },
      }),
    );
    run.logMetric('train/loss', 1);
    const report = await run.end();
    expect(report.ok).toBe(false);
    // Every event is counted: the start, the point and the end (none reached ClearML).
    expect(report.sinks[0]).toMatchObject({
      pending: 0,
      failed: 3,
      failedByReason: { rejected: 3 },
    });
    expect(report.sinks[0]?.lastError).toMatch(/CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY/);
    expect(clearml.tasks.size).toBe(0);
    expect(warnings.join('\n')).not.toContain(SECRET);
    expect(clearml.requests.filter((request) => request.path === 'auth.login')).toHaveLength(1);
  });

  it('starts the task before it ends it, even when tasks.started only got through at the close', async () => {
    // ClearML completes only an in_progress task: a tasks.started cut off by the close's data
    // deadline is sent in the reserve, before the status.
    clearml.inject(
      ...Array.from({ length: 6 }, () => ({ status: 503, path: 'tasks.started', retryAfter: '1' })),
    );
    const run = startRun(
      {},
      sinkOptions({
        retryPolicy: { initialDelayMs: 1000, maxDelayMs: 1000, maxRetryAfterMs: 1000 },
      }),
    );
    run.logMetric('train/loss', 1);
    const report = await run.end('completed', { timeoutMs: 8_000 });
    expect(report).toMatchObject({ ok: true, failed: 0 });
    const task = clearml.onlyTask();
    expect(task.transitions.map((transition) => transition.to)).toEqual([
      'in_progress',
      'completed',
    ]);
    expect(clearml.violations).toEqual([]);
  }, 20_000);
});
