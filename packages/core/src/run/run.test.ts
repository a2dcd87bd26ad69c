import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGatedSink, startTestRun } from '@livestep/test-support';
import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../pipeline/delivery-error.js';
import type { Sink } from '../pipeline/sink.js';
import { confusionMatrix } from '../plots/confusion-matrix.js';
import type { MetricEvent } from '../protocol/events.js';
import { validateBatch } from '../protocol/validate-batch.js';
import { createMemorySink } from '../sinks/memory-sink.js';
import { Run } from './run.js';
import type { StartRunOptions } from './run-options.js';
import { withRun } from './start-run.js';

const PNG_BYTES = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);

describe('Run', () => {
  it('records start, params, metrics at their steps and done, in seq order', async () => {
    const { run, sink } = startTestRun({ params: { learningRate: 0.1 }, tags: ['baseline'] });
    run.logMetric('train/loss', 0.9);
    expect(run.nextStep()).toBe(1);
    run.logMetrics({ 'train/loss': 0.5, 'train/accuracy': 0.75 });
    run.logMetric('eval/loss', 0.6, { step: 7, labels: { fold: '1' } });
    const report = await run.end();

    expect(report.ok).toBe(true);
    expect(sink.events.map((event) => event.kind)).toEqual([
      'start',
      'params',
      'metric',
      'metric',
      'metric',
      'metric',
      'done',
    ]);
    expect(sink.events.map((event) => event.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(sink.metrics().map(({ name, value, step }) => [name, value, step])).toEqual([
      ['train/loss', 0.9, 0],
      ['train/loss', 0.5, 1],
      ['train/accuracy', 0.75, 1],
      ['eval/loss', 0.6, 7],
    ]);
    expect(sink.metrics('eval/loss')[0]!.labels).toEqual({ fold: '1' });
    const start = sink.events[0]!;
    expect(start).toMatchObject({
      kind: 'start',
      experiment: 'test',
      name: 'test-run',
      tags: ['baseline'],
    });
    const done = sink.events.at(-1)!;
    expect(done).toMatchObject({
      kind: 'done',
      status: 'completed',
      summary: { 'train/loss': 0.5, 'train/accuracy': 0.75 },
    });
  });

  it('hands a full batch over at once and a partial one within the flush interval, also after a full one', async () => {
    const flushIntervalMs = 100;
    const { run, sink } = startTestRun({ flushIntervalMs, maxBatchEvents: 4 });
    const countMetrics = () => sink.metrics().length;
    const waitForMetrics = async (count: number, withinMs: number) => {
      const started = Date.now();
      while (countMetrics() < count && Date.now() - started < withinMs) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return Date.now() - started;
    };
    // The start event is the first of the first batch: three points fill it.
    for (let point = 0; point < 3; point++) run.logMetric('loss', point);
    await new Promise((resolve) => setImmediate(resolve));
    expect(countMetrics()).toBe(3);

    // One point after a full batch: not held for a full batch, nor past the interval (with slack
    // for a busy machine).
    run.logMetric('loss', 3);
    const waited = await waitForMetrics(4, 10 * flushIntervalMs);
    expect(countMetrics()).toBe(4);
    expect(waited).toBeLessThan(5 * flushIntervalMs);
    await run.end();
  });

  it('makes every batch valid protocol v1 with unique UUID event ids', async () => {
    const { run, sink } = startTestRun({ maxBatchEvents: 3 });
    for (let step = 0; step < 10; step++) {
      run.logMetric('loss', 1 / (step + 1));
      run.nextStep();
    }
    run.logMetric('weird', Number.NaN);
    run.logPlot('confusion', confusionMatrix([0, 1, 1], [0, 1, 0], { labels: ['cat', 'dog'] }));
    run.logImage('samples/digit', PNG_BYTES);
    run.annotate('checkpoint saved', { level: 'info' });
    await run.end();
    for (const batch of sink.batches) {
      const validation = validateBatch(JSON.parse(JSON.stringify(batch)));
      expect(validation).toEqual({ ok: true, batch: expect.anything() });
    }
    const ids = sink.events.map((event) => event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(sink.batches.length).toBeGreaterThan(3);
  });

  it('keeps NaN and infinities as "nan", "inf", "-inf"', async () => {
    const { run, sink } = startTestRun();
    run.logMetric('a', Number.NaN);
    run.logMetric('b', Number.POSITIVE_INFINITY);
    run.logMetric('c', Number.NEGATIVE_INFINITY);
    await run.end();
    expect(sink.metrics().map((event) => event.value)).toEqual(['nan', 'inf', '-inf']);
  });

  it.each([
    ['a string', '0.3'],
    ['a bigint', 1n],
    ['null', null],
    ['an object', {}],
    ['undefined', undefined],
  ])('throws on %s, naming the metric, and records nothing for it', async (_, value) => {
    const { run, sink } = startTestRun();
    expect(() => run.logMetric('train/loss', value as number)).toThrow(/metric "train\/loss" got/);
    run.logMetric('train/loss', 1);
    await run.end();
    expect(sink.metrics().map((event) => event.value)).toEqual([1]);
  });

  it('throws on hostile names before anything is recorded', async () => {
    const { run, sink } = startTestRun();
    for (const name of ['../../x', '/abs', 'a/../b', 'nul\u0000', 'C:\\x']) {
      expect(() => run.logMetric(name, 1)).toThrow(/livestep: metric name/);
      expect(() => run.logPlot(name, { kind: 'line', rows: [] })).toThrow(/livestep: plot name/);
      expect(() => run.logImage(name, PNG_BYTES)).toThrow(/livestep: image name/);
    }
    await run.end();
    expect(sink.events.filter((event) => event.kind !== 'start' && event.kind !== 'done')).toEqual(
      [],
    );
  });

  it('rejects a whole logMetrics call when one value is bad', async () => {
    const { run, sink } = startTestRun();
    expect(() => run.logMetrics({ good: 1, bad: 'x' as unknown as number })).toThrow(
      /metric "bad"/,
    );
    await run.end();
    expect(sink.metrics()).toEqual([]);
  });

  it('checks steps and labels', () => {
    const { run } = startTestRun();
    expect(() => run.logMetric('m', 1, { step: -1 })).toThrow(
      /step -1; pass an integer from 0 to Number.MAX_SAFE_INTEGER/,
    );
    expect(() => run.logMetric('m', 1, { step: 1.5 })).toThrow(/step 1.5/);
    expect(() => run.logMetric('m', 1, { labels: { k: 1 as unknown as string } })).toThrow(
      /label "k" is .*values must be strings/,
    );
    expect(() => run.setStep(-2)).toThrow(/setStep got step -2/);
    run.setStep(41);
    expect(run.nextStep()).toBe(42);
  });

  it('keeps the timestamp a value was measured at, and refuses one that is not a time', async () => {
    const { run, sink } = startTestRun();
    const measuredAt = Date.parse('2026-01-02T03:04:05.678Z');
    run.logMetric('latency', 1.5, { timestamp: measuredAt });
    expect(() => run.logMetric('latency', 1, { timestamp: Number.NaN })).toThrow(
      /metric "latency" got timestamp NaN; pass milliseconds since the epoch/,
    );
    expect(() =>
      run.logMetric('latency', 1, { timestamp: '2026-01-02' as unknown as number }),
    ).toThrow(/timestamp a string/);
    await run.end();
    expect(sink.metrics('latency').map((event) => [event.value, event.ts])).toEqual([
      [1.5, measuredAt],
    ]);
  });

  it('logs a series of one metric as the same events as one logMetric call per value', async () => {
    const measuredAt = Date.parse('2026-01-02T03:04:05.678Z');
    const one = startTestRun();
    const many = startTestRun();
    const values = Float64Array.from([0.5, Number.NaN, 0.25, Number.POSITIVE_INFINITY]);
    const steps = [3, 4, 4, 9];
    const timestamps = Float64Array.from([0, 1, 2, 3], (offset) => measuredAt + offset);
    values.forEach((value, index) => {
      one.run.logMetric('latency', value, {
        step: steps[index]!,
        timestamp: timestamps[index]!,
        labels: { model: 'a' },
      });
    });
    many.run.logMetricSeries('latency', values, { steps, timestamps, labels: { model: 'a' } });
    many.run.logMetricSeries('eval/loss', [0.9, 0.7]); // current step, timed now
    await Promise.all([one.run.end(), many.run.end()]);

    const shape = ({ name, value, step, ts, labels }: MetricEvent) => ({
      name,
      value,
      step,
      ts,
      labels,
    });
    expect(many.sink.metrics('latency').map(shape)).toEqual(one.sink.metrics('latency').map(shape));
    expect(many.sink.metrics('latency').map((event) => event.value)).toEqual([
      0.5,
      'nan',
      0.25,
      'inf',
    ]);
    const losses = many.sink.metrics('eval/loss');
    expect(losses.map((event) => [event.value, event.step])).toEqual([
      [0.9, 0],
      [0.7, 0],
    ]);
    expect(Math.abs(losses[0]!.ts - Date.now())).toBeLessThan(60_000);
    const seqs = many.sink.events.map((event) => event.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(many.sink.events.at(-1)).toMatchObject({ kind: 'done', summary: { 'eval/loss': 0.7 } });
  });

  it('refuses a series with a bad entry, naming the field and index, and records none of it', async () => {
    const { run, sink } = startTestRun();
    run.logMetric('latency', 1);
    expect(() => run.logMetricSeries('latency', [1, '2' as unknown as number])).toThrow(
      /logMetricSeries\("latency"\) values\[1\] is a string \("2"\); pass numbers\. Nothing of this series was recorded/,
    );
    expect(() => run.logMetricSeries('latency', [1, 2], { steps: [0, -1] })).toThrow(
      /steps\[1\] is -1; pass integers >= 0/,
    );
    expect(() => run.logMetricSeries('latency', [1], { timestamps: [Number.NaN] })).toThrow(
      /timestamps\[0\] is NaN; pass milliseconds since the epoch/,
    );
    expect(() => run.logMetricSeries('latency', [1, 2], { steps: [0] })).toThrow(
      /got 1 steps for 2 values; pass one per value/,
    );
    expect(() => run.logMetricSeries('latency', 3 as unknown as number[])).toThrow(
      /got values .*; pass an array or a typed array of numbers/,
    );
    expect(() => run.logMetricSeries('a//b', [1])).toThrow(/empty path segment/);
    await run.end();
    expect(sink.metrics('latency').map((event) => event.value)).toEqual([1]);
  });

  it('has adapters log what they buffered before every flush and before done', async () => {
    const { run, sink, warnings } = startTestRun();
    const buffered: number[] = [];
    const logBuffered = () => {
      for (const value of buffered.splice(0)) run.logMetric('buffered', value);
    };
    run.beforeFlush(logBuffered);
    const unregisterBroken = run.beforeFlush(() => {
      throw new Error('buffer is gone');
    });
    buffered.push(1, 2);
    await run.flush();
    expect(sink.metrics('buffered').map((event) => event.value)).toEqual([1, 2]);
    expect(warnings).toEqual([
      'livestep: an adapter failed to log what it buffered: buffer is gone',
    ]);
    unregisterBroken();
    buffered.push(3);
    await run.end();
    expect(sink.metrics('buffered').map((event) => event.value)).toEqual([1, 2, 3]);
    // The values came before done, so the summary has them too.
    expect(sink.events.at(-1)).toMatchObject({ kind: 'done', summary: { buffered: 3 } });
    expect(warnings).toHaveLength(1);
    expect(() => run.beforeFlush('later' as never)).toThrow(/beforeFlush\(\) got a string/);
  });

  it('sends done exactly once when end() is called twice, and returns the same report', async () => {
    const { run, sink } = startTestRun();
    run.logMetric('m', 1);
    const first = run.end('completed');
    const second = run.end('failed');
    expect(second).toBe(first);
    await Promise.all([first, second]);
    expect(sink.events.filter((event) => event.kind === 'done')).toHaveLength(1);
    expect(run.status).toBe('completed');
    expect(sink.closeCount).toBe(1);
  });

  it('does not record, and warns once, when logging after end', async () => {
    const { run, sink, warnings } = startTestRun();
    await run.end();
    run.logMetric('late', 1);
    run.logMetrics({ late: 2 });
    run.logParams({ late: true });
    run.annotate('late');
    await run.flush();
    expect(sink.events.map((event) => event.kind)).toEqual(['start', 'done']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /has ended \(completed\); events logged after end\(\) are not recorded/,
    );
    const report = await run.flush();
    expect(report.sinks[0]!.failedByReason.logged_after_end).toBe(4);
  });

  it('still throws on programmer errors after end', async () => {
    const { run } = startTestRun();
    await run.end();
    expect(() => run.logMetric('m', 'x' as unknown as number)).not.toThrow(); // dropped, not checked
    expect(() => run.end('bogus' as 'completed')).not.toThrow(); // already ended: first call wins
  });

  it('merges params deeply and copies them', async () => {
    const { run, sink } = startTestRun();
    const optimizer = { name: 'adam', config: { learningRate: 0.1, beta1: 0.9 } };
    run.logParams({ optimizer, epochs: 10 });
    optimizer.config.learningRate = 99;
    run.logParams({ optimizer: { config: { learningRate: 0.01 } } });
    run.logParam('data/split', 0.2);
    run.logParams({ when: new Date(0), bad: Number.NaN });
    await run.end();
    expect(sink.params()).toEqual({
      optimizer: { name: 'adam', config: { learningRate: 0.01, beta1: 0.9 } },
      epochs: 10,
      data: { split: 0.2 },
      when: '1970-01-01T00:00:00.000Z',
      bad: 'nan',
    });
  });

  it('rejects params that are not plain data, naming the key', () => {
    const { run } = startTestRun();
    expect(() => run.logParams({ model: { fn: () => 1 } })).toThrow(
      /param "model.fn" is a function/,
    );
    expect(() => run.logParams({ big: 1n })).toThrow(/param "big" is a bigint/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => run.logParams({ cycle })).toThrow(/param "cycle.self" refers to itself/);
    expect(() => run.logParams([] as unknown as Record<string, unknown>)).toThrow(
      /params must be an object/,
    );
  });

  it('validates plots by kind and keeps them as data', async () => {
    const { run, sink } = startTestRun();
    expect(() => run.logPlot('roc', { kind: 'roc', rows: [{ fpr: 0 }] })).toThrow(
      /plot "roc" \(roc\) row 0 has no "tpr"; roc rows need fpr, tpr/,
    );
    expect(() => run.logPlot('p', { kind: 'pie' as 'line', rows: [] })).toThrow(
      /kind "pie"; use one of/,
    );
    expect(() =>
      run.logPlot('p', { kind: 'line', rows: [{ x: {} as unknown as number }] }),
    ).toThrow(/row 0 column "x" is an object/);
    run.logPlot('roc', {
      kind: 'roc',
      rows: [
        { fpr: 0, tpr: 0, threshold: Number.POSITIVE_INFINITY },
        { fpr: 1, tpr: 1, threshold: 0 },
      ],
    });
    await run.end();
    const plot = sink.events.find((event) => event.kind === 'plot');
    expect(plot).toMatchObject({ name: 'roc', plotKind: 'roc', step: 0 });
    expect(plot && 'rows' in plot && plot.rows[0]).toEqual({ fpr: 0, tpr: 0, threshold: 'inf' });
  });

  it('detects image types, adds the extension and refuses other bytes', async () => {
    const { run, sink } = startTestRun();
    run.logImage('samples/first', PNG_BYTES);
    run.logImage('photo.jpg', Uint8Array.from([0xff, 0xd8, 0xff, 0xe0]));
    expect(() => run.logImage('x', Uint8Array.from([1, 2, 3]))).toThrow(
      /not PNG, JPEG or GIF data/,
    );
    expect(() => run.logImage('x', 'abc' as unknown as Uint8Array)).toThrow(/pass the encoded/);
    await run.end();
    const images = sink.events.filter((event) => event.kind === 'image');
    expect(images.map((event) => [event.name, event.mime])).toEqual([
      ['samples/first.png', 'image/png'],
      ['photo.jpg', 'image/jpeg'],
    ]);
    expect(Buffer.from((images[0] as { bytes: string }).bytes, 'base64')).toEqual(
      Buffer.from(PNG_BYTES),
    );
  });

  it('records artifacts with size and sha256', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-artifact-'));
    const path = join(folder, 'model.bin');
    writeFileSync(path, 'hello');
    const { run, sink } = startTestRun();
    await run.logArtifact('model', path);
    await expect(run.logArtifact('missing', join(folder, 'nope'))).rejects.toThrow(
      /artifact "missing": cannot read .*nope \(ENOENT\)/,
    );
    await run.end();
    expect(sink.events.find((event) => event.kind === 'artifact')).toMatchObject({
      name: 'model',
      type: 'model',
      path,
      size: 5,
      sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    });
  });

  it('does not let a failing sink hold back the others, and reports it', async () => {
    const failing: Sink = {
      name: 'failing',
      send() {
        throw new Error('disk full');
      },
    };
    const { run, sink, warnings } = startTestRun({ sinks: [failing] });
    for (let index = 0; index < 10; index++) run.logMetric('m', index);
    const report = await run.flush();
    expect(sink.metrics()).toHaveLength(10);
    expect(report.ok).toBe(false);
    const failingReport = report.sinks.find((entry) => entry.sink === 'failing')!;
    expect(failingReport).toMatchObject({
      failed: 11,
      lastError: 'disk full',
      failedByReason: { send_error: 11 },
    });
    expect(
      warnings.some((warning) =>
        warning.includes('sink "failing" failed to store 11 events: disk full'),
      ),
    ).toBe(true);
    await expect(run.flushOrThrow()).rejects.toThrow(DeliveryError);
    await expect(run.flushOrThrow()).rejects.toThrow(
      /sink "failing": 0 pending, 11 failed \(11 send_error\); last error: disk full/,
    );
    await run.end();
  });

  it('never waits for a slow sink while logging, and flush reports what is pending', async () => {
    const slow = createGatedSink('slow');
    const { run, sink } = startTestRun({ sinks: [slow], maxBatchEvents: 10 });
    const started = performance.now();
    for (let index = 0; index < 10_000; index++) run.logMetric('m', index);
    expect(performance.now() - started).toBeLessThan(1_000);
    const report = await run.flush({ timeoutMs: 50 });
    expect(sink.metrics()).toHaveLength(10_000);
    const slowReport = report.sinks.find((entry) => entry.sink === 'slow')!;
    expect(slowReport.pending).toBe(10_001);
    expect(report.ok).toBe(false);
    slow.release();
    const after = await run.end();
    expect(after.ok).toBe(true);
    expect(after.sinks.find((entry) => entry.sink === 'slow')!.delivered).toBe(10_002);
  });

  it('drops data points but keeps done when a sink is stuck past the queue bound', async () => {
    const stuck = createGatedSink('stuck');
    const { run, sink, warnings } = startTestRun({
      sinks: [stuck],
      maxBatchEvents: 100,
      maxQueuedEvents: 1_000,
    });
    // Yield between bursts, as a training loop does, so the healthy sink can keep up.
    for (let burst = 0; burst < 10; burst++) {
      for (let index = 0; index < 500; index++) run.logMetric('m', burst * 500 + index);
      await new Promise(setImmediate);
    }
    const ending = run.end('completed', { timeoutMs: 100 });
    const report = await ending;
    const stuckReport = report.sinks.find((entry) => entry.sink === 'stuck')!;
    // The queue holds 1,000 events: the start event and the first 999 points; done always fits.
    expect(stuckReport.failedByReason.queue_overflow).toBe(4_001);
    expect(stuckReport.pending).toBe(1_001);
    expect(sink.metrics()).toHaveLength(5_000); // the healthy sink lost nothing
    expect(warnings.some((warning) => warning.includes('sink "stuck" is not keeping up'))).toBe(
      true,
    );
    stuck.release();
  });

  it('ends as failed with the error through withRun, and rethrows', async () => {
    const sink = createMemorySink();
    await expect(
      withRun({ sinks: [sink], exitHooks: false, collectGit: false }, (run) => {
        run.logMetric('m', 1);
        throw new RangeError('diverged');
      }),
    ).rejects.toThrow('diverged');
    expect(sink.events.at(-1)).toMatchObject({
      kind: 'done',
      status: 'failed',
      error: { name: 'RangeError', message: 'diverged' },
    });
  });

  it('ends as completed through withRun and returns the result', async () => {
    const sink = createMemorySink();
    const result = await withRun(
      { sinks: [sink], exitHooks: false, collectGit: false },
      async (run) => {
        run.logMetric('m', 1);
        return 42;
      },
    );
    expect(result).toBe(42);
    expect(sink.events.at(-1)).toMatchObject({ kind: 'done', status: 'completed' });
  });

  it('ends with `await using`', async () => {
    const sink = createMemorySink();
    {
      await using run = new Run({ sinks: [sink], exitHooks: false, collectGit: false });
      run.logMetric('m', 1);
    }
    expect(sink.events.at(-1)).toMatchObject({ kind: 'done', status: 'completed' });
  });

  it('reads the experiment and run name from the environment', async () => {
    const sink = createMemorySink();
    const run = new Run({
      sinks: [sink],
      exitHooks: false,
      collectGit: false,
      environment: { LIVESTEP_EXPERIMENT: 'from-env', LIVESTEP_RUN_NAME: 'run-7' },
    });
    expect([run.experiment, run.name]).toEqual(['from-env', 'run-7']);
    await run.end();
  });

  it('waits LIVESTEP_END_TIMEOUT_MS at end() when the code gives no timeout, and refuses a value that is not milliseconds', async () => {
    const closeDeadlines: number[] = [];
    const sink: Sink = {
      name: 'deadline-recorder',
      send() {},
      close({ deadline }) {
        closeDeadlines.push(deadline - Date.now());
      },
    };
    const options: StartRunOptions = { sinks: [sink], exitHooks: false, collectGit: false };
    await new Run({ ...options, environment: { LIVESTEP_END_TIMEOUT_MS: '45000' } }).end();
    await new Run({ ...options, environment: { LIVESTEP_END_TIMEOUT_MS: '45000' } }).end(
      'completed',
      { timeoutMs: 700 },
    );
    await new Run({ ...options, environment: {} }).end();
    expect(closeDeadlines).toHaveLength(3);
    expect(closeDeadlines[0]).toBeGreaterThan(44_000);
    expect(closeDeadlines[0]).toBeLessThanOrEqual(45_000);
    expect(closeDeadlines[1]).toBeLessThanOrEqual(700); // the call's own timeout wins
    expect(closeDeadlines[2]).toBeLessThanOrEqual(5_000); // the default
    expect(closeDeadlines[2]).toBeGreaterThan(4_000);
    for (const bad of ['30s', '-1', '1.5', '7200000']) {
      expect(() => new Run({ ...options, environment: { LIVESTEP_END_TIMEOUT_MS: bad } })).toThrow(
        `LIVESTEP_END_TIMEOUT_MS must be a whole number of milliseconds from 0 to 3600000 (e.g. 30000 for 30 s), got "${bad}"`,
      );
    }
  });

  it('records nothing when disabled, but the API still works', async () => {
    const run = new Run({ environment: { LIVESTEP_DISABLED: '1' }, collectGit: false });
    run.logMetric('m', 1);
    expect(() => run.logMetric('m', 'x' as unknown as number)).toThrow();
    const report = await run.end();
    expect(report).toEqual({ ok: true, pending: 0, failed: 0, sinks: [] });
  });

  it('refuses bad experiment names and statuses', () => {
    expect(() => new Run({ experiment: '', exitHooks: false })).toThrow(
      /experiment must be a non-empty string/,
    );
    expect(() => new Run({ name: 'a\nb', exitHooks: false, sinks: [] })).toThrow(
      /run name "a\\nb"/,
    );
    const { run } = startTestRun();
    expect(() => run.end('finished' as 'completed')).toThrow(
      /use one of completed, failed, interrupted/,
    );
  });

  it('fills git info into the start event before any sink sees it', async () => {
    const sink = createMemorySink();
    const run = new Run({ sinks: [sink], exitHooks: false, collectGit: true });
    await run.end();
    const start = sink.events[0]!;
    expect(start.kind).toBe('start');
    // Inside this repository the sha is known; outside one, git is null. Either way it is settled.
    expect('git' in start).toBe(true);
  });
});

describe('the default sinks of a run', () => {
  it('keep dvc.yaml where the run says, so runs side by side each have their own, and still stream', async () => {
    const project = mkdtempSync(join(tmpdir(), 'livestep-dvcyaml-'));
    const received: unknown[] = [];
    const { createServer } = await import('node:http');
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push(...JSON.parse(body).events);
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      for (const name of ['first', 'second']) {
        const directory = join(project, 'runs', name);
        const run = new Run({
          experiment: 'side-by-side',
          name,
          directory,
          dvcYaml: join(directory, 'dvc.yaml'),
          environment: { LIVESTEP_URL: `http://127.0.0.1:${port}` },
          exitHooks: false,
          collectGit: false,
        });
        run.logMetric('eval/accuracy', name === 'first' ? 0.9 : 0.5);
        await run.end();
        expect(readFileSync(join(directory, 'dvc.yaml'), 'utf8')).toContain('metrics.json');
      }
      expect(existsSync(join(project, 'runs', 'dvc.yaml'))).toBe(false);
      // The environment's HTTP sink is still there beside the directory sink.
      expect(
        received.filter((event) => (event as { kind: string }).kind === 'metric'),
      ).toHaveLength(2);

      const none = join(project, 'none');
      const run = new Run({
        directory: none,
        dvcYaml: false,
        exitHooks: false,
        collectGit: false,
        environment: {},
      });
      run.logMetric('eval/accuracy', 1);
      await run.end();
      expect(existsSync(join(none, 'metrics.json'))).toBe(true);
      expect(existsSync(join(project, 'dvc.yaml'))).toBe(false);
    } finally {
      server.close();
    }
  });
});
