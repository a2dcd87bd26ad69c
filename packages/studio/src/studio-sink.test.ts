import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { confusionMatrix, createDirectorySink, createJsonlSink, withRun } from '@livestep/core';
import { type FakeStudio, startFakeStudio } from '@livestep/test-support/studio';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  capturedOutput,
  createTestStudioSink,
  FAST_RETRY_POLICY,
  startStudioTestRun,
  studioReportOf,
  TEST_BASELINE_SHA,
  TEST_REPOSITORY_URL,
  TEST_TOKEN,
  TEST_WORKING_DIRECTORY,
} from './test-support/studio-test-run.js';

/** A 1x1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

type Body = Record<string, unknown>;
type Plots = Record<string, { data?: Body[]; image?: string; props?: Body }>;

let studio: FakeStudio;

beforeEach(async () => {
  studio = await startFakeStudio(TEST_TOKEN);
});

afterEach(async () => {
  await studio.stop();
});

afterAll(() => {
  // The token is sent only in the Authorization header: never in a warning, an error or a report.
  expect(capturedOutput.length).toBeGreaterThan(0);
  for (const text of capturedOutput) expect(text).not.toContain(TEST_TOKEN);
});

function plotsOf(bodies: Body[]): Plots {
  const merged: Plots = {};
  for (const body of bodies) Object.assign(merged, body.plots as Plots | undefined);
  return merged;
}

describe('the bodies Studio gets', () => {
  it('posts start, data and done with the reference key names, paths and headers', async () => {
    const message = `Train on iris with a much larger learning rate than last time; ${'x'.repeat(80)}`;
    const { run } = startStudioTestRun(
      studio,
      {},
      { params: { learningRate: 0.1, model: { layers: 2 } }, message },
    );
    run.logMetrics({ 'train/loss': 1.5, 'train/accuracy': 0.5 });
    run.logMetric('eval/recall', 0.7, { labels: { class: 'setosa' } });
    run.nextStep();
    run.logMetrics({ 'train/loss': 0.75, 'train/accuracy': 0.8 });
    run.logImage('samples/digit.png', PNG);
    run.logPlot('confusion_matrix', confusionMatrix(['a', 'b', 'a'], ['a', 'a', 'a']));
    run.logPlot('predictions', {
      kind: 'scatter',
      rows: [
        { x: 1, y: 2 },
        { x: 2, y: 3 },
      ],
      x: 'x',
      y: 'y',
    });
    const report = await run.end();
    expect(report.ok).toBe(true);

    expect(studio.violations).toEqual([]);
    const types = studio.accepted().map((body) => body.type);
    expect(types[0]).toBe('start');
    expect(types.at(-1)).toBe('done');
    expect(types.slice(1, -1).every((type) => type === 'data')).toBe(true);
    for (const request of studio.requests) {
      expect(request.authorization).toBe(`token ${TEST_TOKEN}`);
      expect(request.contentType).toBe('application/json');
      expect(request.path).toBe('/api/live');
    }

    const [start] = studio.accepted('start');
    expect(start).toEqual({
      type: 'start',
      repo_url: TEST_REPOSITORY_URL,
      baseline_sha: TEST_BASELINE_SHA,
      name: 'brisk-otter',
      client: 'dvclive',
      message: message.slice(0, 72),
      params: { 'livestep/params.yaml': { learningRate: 0.1, model: { layers: 2 } } },
    });
    expect((start!.message as string).length).toBe(72);

    const data = studio.accepted('data');
    const last = data.filter((body) => body.metrics !== undefined).at(-1)!;
    expect(last.step).toBe(1);
    expect(last.params).toEqual({
      'livestep/params.yaml': { learningRate: 0.1, model: { layers: 2 } },
    });
    expect(last.metrics).toEqual({
      'livestep/metrics.json': {
        data: {
          train: { loss: 0.75, accuracy: 0.8 },
          eval: { recall: { 'class=setosa': 0.7 } },
          step: 1,
        },
      },
    });
    const plots = plotsOf(data);
    expect(Object.keys(plots).sort()).toEqual([
      'livestep/plots/custom/predictions.json',
      'livestep/plots/images/samples/digit.png',
      'livestep/plots/metrics/eval/recall/class=setosa.tsv',
      'livestep/plots/metrics/train/accuracy.tsv',
      'livestep/plots/metrics/train/loss.tsv',
      'livestep/plots/sklearn/confusion_matrix.json',
    ]);
    const loss = studio.rows('livestep/plots/metrics/train/loss.tsv');
    expect(loss.map((row) => [row.step, row.loss])).toEqual([
      [0, 1.5],
      [1, 0.75],
    ]);
    for (const row of loss) expect(row.timestamp).toMatch(/^\d{13}$/);
    expect(plots['livestep/plots/images/samples/digit.png']).toEqual({
      image: PNG.toString('base64'),
    });
    expect(plots['livestep/plots/sklearn/confusion_matrix.json']!.data).toEqual([
      { actual: 'a', predicted: 'a' },
      { actual: 'a', predicted: 'a' },
      { actual: 'b', predicted: 'a' },
    ]);
    expect(plots['livestep/plots/sklearn/confusion_matrix.json']!.props).toMatchObject({
      template: 'confusion',
      x: 'actual',
      y: 'predicted',
    });
    expect(plots['livestep/plots/custom/predictions.json']).toEqual({
      data: [
        { x: 1, y: 2 },
        { x: 2, y: 3 },
      ],
      props: { template: 'scatter', x: 'x', y: 'y' },
    });

    const [done] = studio.accepted('done');
    expect(done).toEqual({
      type: 'done',
      repo_url: TEST_REPOSITORY_URL,
      baseline_sha: TEST_BASELINE_SHA,
      name: 'brisk-otter',
      client: 'dvclive',
    });
  });

  it('files plots under the same paths the directory sink writes', async () => {
    const workingDirectory = mkdtempSync(join(tmpdir(), 'livestep-studio-layout-'));
    const runFolder = join(workingDirectory, 'runs', 'baseline');
    const { run } = startStudioTestRun(
      studio,
      { workingDirectory, directory: 'runs/baseline' },
      { sinks: [createDirectorySink({ directory: runFolder, dvcYaml: false })], params: { a: 1 } },
    );
    run.logMetric('train/loss', 0.5);
    run.logMetric('eval/recall', 0.5, { labels: { class: 'b/c' } });
    run.logImage('digit', PNG);
    run.logPlot('roc', { kind: 'roc', rows: [{ fpr: 0, tpr: 0, threshold: 1 }] });
    run.logPlot('table', { kind: 'table', rows: [{ a: 1 }] });
    await run.end();

    const files: string[] = [];
    const walk = (folder: string) => {
      for (const name of readdirSync(folder)) {
        const path = join(folder, name);
        if (statSync(path).isDirectory()) walk(path);
        else files.push(relative(workingDirectory, path).split(sep).join('/'));
      }
    };
    walk(runFolder);
    const sent = new Set<string>();
    for (const body of studio.accepted()) {
      for (const key of ['params', 'metrics', 'plots'] as const) {
        for (const path of Object.keys((body[key] as Body | undefined) ?? {})) sent.add(path);
      }
    }
    // Every file of DVCLive's layout; livestep.json is livestep's own record, not Studio's.
    const dvcliveFiles = files.filter((path) => !path.endsWith('/livestep.json'));
    expect([...sent].sort()).toEqual(dvcliveFiles.sort());
    expect(studio.violations).toEqual([]);
  });

  it('sends step as the highest step logged, an integer, also before any metric', async () => {
    const { run } = startStudioTestRun(studio);
    run.logImage('first.png', PNG);
    await run.flush();
    expect(studio.accepted('data')[0]!.step).toBe(0);
    run.logMetric('loss', 1, { step: 7 });
    run.logMetric('loss', 2, { step: 3 });
    await run.end();
    const steps = studio.accepted('data').map((body) => body.step);
    expect(steps.every((step) => Number.isInteger(step))).toBe(true);
    expect(steps.at(-1)).toBe(7);
    expect(studio.rows('livestep/plots/metrics/loss.tsv').map((row) => row.step)).toEqual([7, 3]);
    expect(studio.violations).toEqual([]);
  });

  it('never writes NaN or Infinity: non-finite values are "nan", "inf", "-inf"', async () => {
    const { run } = startStudioTestRun(studio, {}, { params: { decay: Number.NaN } });
    run.logMetric('loss', Number.NaN);
    run.logMetric('gain', Number.POSITIVE_INFINITY);
    run.logMetric('drop', Number.NEGATIVE_INFINITY);
    run.logPlot('curve', { kind: 'line', rows: [{ x: 1, y: Number.NaN }] });
    await run.end();
    expect(studio.violations).toEqual([]);
    for (const request of studio.requests) expect(request.text).not.toMatch(/NaN|Infinity|null/);
    expect(studio.rows('livestep/plots/metrics/loss.tsv')[0]!.loss).toBe('nan');
    expect(studio.rows('livestep/plots/metrics/gain.tsv')[0]!.gain).toBe('inf');
    expect(studio.rows('livestep/plots/metrics/drop.tsv')[0]!.drop).toBe('-inf');
    const last = studio
      .accepted('data')
      .filter((body) => body.metrics)
      .at(-1)!;
    expect((last.metrics as Record<string, { data: Body }>)['livestep/metrics.json']!.data).toEqual(
      { loss: 'nan', gain: 'inf', drop: '-inf', step: 0 },
    );
    expect(last.params).toEqual({ 'livestep/params.yaml': { decay: 'nan' } });
  });
});

describe('done', () => {
  it('is sent when the run completes, fails or is interrupted, and nothing after it', async () => {
    const completed = startStudioTestRun(studio, { experimentName: 'run-completed' }).run;
    completed.logMetric('loss', 1);
    await completed.end();

    await expect(
      withRun(
        {
          name: 'run-failed',
          exitHooks: false,
          collectGit: false,
          collectMachine: false,
          environment: {},
          sinks: [createTestStudioSink(studio).sink],
        },
        async (run) => {
          run.logMetric('loss', 2);
          throw new TypeError('shapes do not match');
        },
      ),
    ).rejects.toThrow('shapes do not match');

    const interrupted = startStudioTestRun(studio, { experimentName: 'run-interrupted' }).run;
    interrupted.logMetric('loss', 3);
    await interrupted.end('interrupted');
    interrupted.logMetric('loss', 4);
    await interrupted.flush();

    expect(studio.violations).toEqual([]);
    const done = Object.fromEntries(
      studio.accepted('done').map((body) => [body.name, body.errors ?? null]),
    );
    expect(done).toEqual({
      'run-completed': null,
      'run-failed': [{ cls: 'TypeError', text: 'shapes do not match' }],
      'run-interrupted': [
        { cls: 'Interrupted', text: 'the run was interrupted before it finished' },
      ],
    });
    for (const name of ['run-completed', 'run-failed', 'run-interrupted']) {
      const types = studio
        .accepted()
        .filter((body) => body.name === name)
        .map((body) => body.type);
      expect(types.at(-1)).toBe('done');
      expect(types.filter((type) => type === 'done')).toHaveLength(1);
    }
  });
});

describe('chunking', () => {
  it('keeps every request within the limits and sends what did not fit in the next request', async () => {
    const plotLimits = { maxPlotsPerBody: 2, maxPlotBytes: 1_500, maxBodyBytes: 3_000 };
    const { run } = startStudioTestRun(studio, { plotLimits });
    for (let step = 0; step < 40; step++) {
      run.logMetrics({ a: step, b: step * 2, c: step * 3, d: step * 4, e: step * 5 });
      run.nextStep();
    }
    run.logPlot('small', { kind: 'table', rows: [{ v: 1 }] });
    await run.end();
    expect(studio.violations).toEqual([]);

    for (const body of studio.accepted('data')) {
      const plots = (body.plots ?? {}) as Plots;
      if (Object.keys(plots).length === 0) continue;
      expect(Object.keys(plots).length).toBeLessThanOrEqual(plotLimits.maxPlotsPerBody);
      expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(plotLimits.maxBodyBytes);
      for (const plot of Object.values(plots)) {
        expect(Buffer.byteLength(JSON.stringify(plot))).toBeLessThanOrEqual(
          plotLimits.maxPlotBytes,
        );
      }
    }
    // Every row arrived exactly once and in order, split over several requests.
    for (const [name, factor] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
      ['e', 5],
    ] as const) {
      const rows = studio.rows(`livestep/plots/metrics/${name}.tsv`);
      expect(rows.map((row) => row[name])).toEqual(
        Array.from({ length: 40 }, (_, step) => step * factor),
      );
    }
    expect(plotsOf(studio.accepted('data'))['livestep/plots/custom/small.json']).toBeDefined();
  });

  it('drops an image too large for one plot, with one warning and a count', async () => {
    const { run, warnings } = startStudioTestRun(studio, {
      plotLimits: { maxPlotsPerBody: 200, maxPlotBytes: 1_000, maxBodyBytes: 5_000 },
    });
    const large = Buffer.concat([PNG, Buffer.alloc(2_000)]);
    run.logImage('large-1.png', large);
    run.logImage('large-2.png', large);
    run.logImage('small.png', PNG);
    const report = await run.end();
    expect(studioReportOf(report).failedByReason).toEqual({ rejected: 2 });
    expect(warnings.filter((warning) => warning.includes('not sent to Studio'))).toHaveLength(1);
    const plots = plotsOf(studio.accepted('data'));
    expect(Object.keys(plots)).toEqual(['livestep/plots/images/small.png']);
    expect(studio.violations).toEqual([]);
  });

  it('splits plots at the real limits: 200 plots, 10 MB a plot, 29 MB a body', async () => {
    const { run } = startStudioTestRun(studio);
    // Three images of ~9.9 MB of JSON each: two fit in one 29 MB body, the third goes next.
    const image = Buffer.concat([PNG, Buffer.alloc(7_400_000, 7)]);
    for (let index = 0; index < 3; index++) run.logImage(`big-${index}.png`, image);
    for (let index = 0; index < 250; index++) {
      run.logPlot(`table-${index}`, { kind: 'table', rows: [{ index }] });
    }
    await run.end('completed', { timeoutMs: 30_000 });
    expect(studio.violations).toEqual([]);
    const withPlots = studio
      .accepted('data')
      .filter((body) => Object.keys((body.plots ?? {}) as Plots).length > 0);
    for (const body of withPlots) {
      const plots = body.plots as Plots;
      expect(Object.keys(plots).length).toBeLessThanOrEqual(200);
      const request = studio.requests.find((entry) => entry.body === body)!;
      expect(request.bytes).toBeLessThanOrEqual(29_000_000);
      for (const plot of Object.values(plots)) {
        expect(Buffer.byteLength(JSON.stringify(plot))).toBeLessThanOrEqual(10_000_000);
      }
    }
    const plots = plotsOf(withPlots);
    expect(Object.keys(plots)).toHaveLength(253);
    expect(withPlots.length).toBeGreaterThanOrEqual(2);
    const imagesPerBody = withPlots.map(
      (body) => Object.keys(body.plots as Plots).filter((path) => path.includes('/images/')).length,
    );
    expect(Math.max(...imagesPerBody)).toBe(2);
    expect(Math.max(...withPlots.map((body) => Object.keys(body.plots as Plots).length))).toBe(200);
  }, 20_000);
});

describe('delivery', () => {
  it('retries 503 and 429, honouring Retry-After, and loses nothing', async () => {
    const { run, warnings } = startStudioTestRun(studio);
    studio.failNext(2, 503);
    studio.failNext(1, 429, { retryAfter: '1' });
    run.logMetric('loss', 1);
    run.nextStep();
    run.logMetric('loss', 2);
    await run.flush();
    studio.failNext(1, 500);
    run.logMetric('loss', 3);
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(studio.violations).toEqual([]);
    expect(studio.rows('livestep/plots/metrics/loss.tsv').map((row) => row.loss)).toEqual([
      1, 2, 3,
    ]);
    // The retry after the 429 waited for the second Retry-After asked for.
    const index = studio.requests.findIndex((request) => request.status === 429);
    expect(studio.requests[index + 1]!.at - studio.requests[index]!.at).toBeGreaterThanOrEqual(900);
    expect(warnings.filter((warning) => warning.includes('retrying'))).toHaveLength(1);
  });

  it('retries dropped connections and requests that time out', async () => {
    const { run } = startStudioTestRun(studio, { requestTimeoutMs: 300 });
    studio.inject({ type: 'drop' }, { type: 'delay', milliseconds: 2_000 });
    run.logMetric('loss', 1);
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(studio.accepted().map((body) => body.type)).toEqual(['start', 'data', 'data', 'done']);
  });

  it('counts a refused post and goes on with later posts', async () => {
    const { run, warnings } = startStudioTestRun(studio);
    run.logMetric('loss', 1);
    await run.flush();
    // The next data post's summary body is refused, then its plots, then a later one is fine.
    studio.inject(
      { type: 'status', status: 400, body: 'invalid body' },
      { type: 'status', status: 400, body: 'invalid body' },
    );
    run.logMetric('loss', 2);
    await run.flush();
    run.logMetric('loss', 3);
    const report = await run.end();
    expect(studioReportOf(report).failedByReason).toEqual({ rejected: 2 });
    expect(studioReportOf(report).lastError).toContain('400');
    expect(studio.rows('livestep/plots/metrics/loss.tsv').map((row) => row.loss)).toEqual([1, 3]);
    expect(studio.accepted().at(-1)!.type).toBe('done');
    expect(warnings.filter((warning) => warning.includes('refused'))).toHaveLength(2);
  });

  it('stops posting when the token is refused, warns once, and never shows the token', async () => {
    studio.token = 'another-token';
    const { run, warnings } = startStudioTestRun(studio);
    for (let step = 0; step < 20; step++) {
      run.logMetric('loss', step);
      run.nextStep();
      await run.flush();
    }
    const report = await run.end();
    expect(studio.requests).toHaveLength(1);
    expect(studio.requests[0]!.status).toBe(401);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('refused the token');
    expect(warnings[0]).toContain('DVC_STUDIO_TOKEN');
    expect(report.ok).toBe(false);
    expect(studioReportOf(report).failedByReason.rejected).toBe(20);
    expect(studioReportOf(report).pending).toBe(0);
    for (const text of [...warnings, JSON.stringify(report)])
      expect(text).not.toContain(TEST_TOKEN);
  });

  it('removes the token from a server message that echoes it', async () => {
    const { run, warnings } = startStudioTestRun(studio);
    studio.inject({ type: 'status', status: 422, body: `bad request from token ${TEST_TOKEN}` });
    const report = await run.end();
    expect(warnings.join('\n')).toContain('[redacted]');
    expect(warnings.join('\n')).not.toContain(TEST_TOKEN);
    expect(studioReportOf(report).lastError).not.toContain(TEST_TOKEN);
  });

  it('sends only rows not yet acknowledged: a data body stays the same size as the run grows', async () => {
    const { run } = startStudioTestRun(studio);
    for (let step = 0; step < 2_000; step++) {
      run.logMetrics({ 'train/loss': 1 / (step + 1), 'train/accuracy': step / 2_000, lr: 0.01 });
      run.nextStep();
      if (step % 100 === 99) await run.flush();
    }
    await run.end();
    expect(studio.violations).toEqual([]);
    const sizes = studio.requests
      .filter((request) => request.status === 200 && request.body?.plots !== undefined)
      .map((request) => request.bytes);
    expect(sizes.length).toBeGreaterThanOrEqual(20);
    const early = Math.max(...sizes.slice(1, 6));
    const late = Math.max(...sizes.slice(-6, -1));
    // Steps gain a digit or two as the run grows; nothing else may grow.
    expect(late).toBeLessThanOrEqual(early * 1.1);
    expect(studio.rows('livestep/plots/metrics/lr.tsv')).toHaveLength(2_000);
    const steps = studio.rows('livestep/plots/metrics/train/loss.tsv').map((row) => row.step);
    expect(steps).toEqual(Array.from({ length: 2_000 }, (_, step) => step));
  });

  it('bounds the rows held while Studio is down, dropping the oldest with a count', async () => {
    const { run, warnings } = startStudioTestRun(studio, { maxUnacknowledgedRows: 100 });
    await run.flush();
    studio.failNext(10_000, 503);
    for (let step = 0; step < 300; step++) run.logMetric('loss', step, { step });
    await run.flush({ timeoutMs: 300 });
    studio.clearFaults();
    const report = await run.end();
    expect(studioReportOf(report).failedByReason.queue_overflow).toBe(200);
    expect(warnings.filter((warning) => warning.includes('oldest are dropped'))).toHaveLength(1);
    const rows = studio.rows('livestep/plots/metrics/loss.tsv');
    expect(rows.map((row) => row.step)).toEqual(
      Array.from({ length: 100 }, (_, index) => 200 + index),
    );
  });

  it('ends within the deadline when Studio is unreachable, and reports what was lost', async () => {
    const { run } = startStudioTestRun(studio);
    run.logMetric('loss', 1);
    await run.flush();
    await studio.stop();
    run.logMetric('loss', 2);
    const started = Date.now();
    const report = await run.end('completed', { timeoutMs: 1_500 });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(report.ok).toBe(false);
    expect(studioReportOf(report).failed).toBeGreaterThan(0);
    expect(studioReportOf(report).lastError).toMatch(/cannot reach|no answer/);
  });

  it('leaves the token out of every file the run writes', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-studio-files-'));
    const { run } = startStudioTestRun(
      studio,
      {},
      {
        sinks: [
          createDirectorySink({ directory: join(folder, 'livestep') }),
          createJsonlSink({ path: join(folder, 'run.jsonl') }),
        ],
        environment: { DVC_STUDIO_TOKEN: TEST_TOKEN },
      },
    );
    studio.failNext(1, 401);
    run.logMetric('loss', 1);
    await run.end();
    const files: string[] = [];
    const walk = (path: string) => {
      if (statSync(path).isDirectory())
        for (const name of readdirSync(path)) walk(join(path, name));
      else files.push(path);
    };
    walk(folder);
    walk(TEST_WORKING_DIRECTORY);
    expect(files.length).toBeGreaterThan(2);
    for (const file of files) expect(readFileSync(file, 'utf8')).not.toContain(TEST_TOKEN);
  });
});

describe('the retry policy of the tests', () => {
  it('is fast', () => {
    expect(FAST_RETRY_POLICY.maxDelayMs).toBeLessThan(100);
  });
});
