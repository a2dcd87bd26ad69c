import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeLivestepServer, startFakeLivestepServer } from '@livestep/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { parseJsonl } from '../protocol/jsonl-record.js';
import { Run } from '../run/run.js';
import { createHttpSink } from './http-sink.js';

const FAST_RETRIES = { initialDelayMs: 20, multiplier: 2, maxDelayMs: 200, jitter: 0.2 };

const receivers: FakeLivestepServer[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.stop()));
});

async function receiver(metricColumns: boolean): Promise<FakeLivestepServer> {
  const started = await startFakeLivestepServer();
  started.metricColumns = metricColumns;
  receivers.push(started);
  return started;
}

function httpRun(url: string, maxMemoryEvents?: number) {
  const warnings: string[] = [];
  const spoolDirectory = mkdtempSync(join(tmpdir(), 'livestep-spool-'));
  const run = new Run({
    experiment: 'http',
    name: 'columns',
    sinks: [
      createHttpSink({
        url,
        spoolDirectory,
        retryPolicy: FAST_RETRIES,
        onWarning: (message) => warnings.push(message),
        ...(maxMemoryEvents !== undefined && { maxMemoryEvents }),
      }),
    ],
    exitHooks: false,
    collectGit: false,
    onWarning: (message) => warnings.push(message),
  });
  return { run, warnings, spoolDirectory };
}

/** Logs in rounds, letting each round go out before the next, so several requests are made. */
async function logRounds(run: Run, rounds: number, perRound: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let index = 0; index < perRound; index++) {
      const step = round * perRound + index;
      run.logMetric('train/loss', step === 7 ? Number.NaN : 1 / (step + 1), { step });
      run.logMetric('eval/acc', step === 8 ? Number.POSITIVE_INFINITY : step / 10_000, {
        step,
        labels: { split: step % 2 ? 'odd' : 'even' },
      });
    }
    await run.flush();
  }
}

describe('HTTP sink, metric columns', () => {
  it('sends event objects only to a server that does not announce metric columns', async () => {
    const server = await receiver(false);
    const { run } = httpRun(server.url);
    await logRounds(run, 3, 500);
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(server.events.size).toBe(3_002);
    expect(server.requests.length).toBeGreaterThanOrEqual(3);
    // Not one request carried a block: an older server never sees a form it does not know.
    expect(server.requests.every((request) => request.columnBlocks === undefined)).toBe(true);
    expect(server.requests.every((request) => request.status === 200)).toBe(true);
  });

  it('sends columns once the server announces them, and every point arrives once, NaN, inf and labels kept', async () => {
    const server = await receiver(true);
    const { run } = httpRun(server.url);
    await logRounds(run, 3, 500);
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(server.events.size).toBe(3_002);
    expect(server.duplicates).toBe(0);
    // The first request learns the capability; the rounds after it go as columns (the done
    // event, alone at the end, as an object).
    expect(server.requests[0]!.columnBlocks).toBeUndefined();
    expect(server.requests.filter((request) => (request.columnBlocks ?? 0) > 0).length).toBe(2);
    const loss = server.arrivals.filter(
      (event) => event.kind === 'metric' && event.name === 'train/loss',
    );
    expect(loss).toHaveLength(1_500);
    expect(loss.find((event) => event.kind === 'metric' && event.step === 7)).toMatchObject({
      value: 'nan',
    });
    expect(
      server.arrivals.find(
        (event) => event.kind === 'metric' && event.step === 8 && event.name === 'eval/acc',
      ),
    ).toMatchObject({
      value: 'inf',
      labels: { split: 'even' },
    });
    // Every event is the one the run made: ids, seqs and steps came through the columns exactly.
    const seqs = [...server.events.values()].map((event) => event.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 3_002 }, (_, seq) => seq));
    // done comes after every point (never in flight beside them).
    expect(server.arrivals.at(-1)!.kind).toBe('done');
  });

  it('keeps two requests of points in flight while the server answers, never more, and sends done after them', async () => {
    const server = await receiver(true);
    const { run } = httpRun(server.url);
    run.logMetric('warmup', 1);
    await run.flush();
    // Slow answers, so a backlog builds behind the first request.
    server.delayNext(6, 150);
    for (let step = 0; step < 30_000; step++) run.logMetric('m', step, { step });
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(server.events.size).toBe(30_003);
    expect(server.duplicates).toBe(0);
    expect(server.maxRequestsInFlight).toBe(2);
    expect(server.arrivals.at(-1)!.kind).toBe('done');
  });

  it('keeps the one event a columns server refuses, found by sending objects and halving', async () => {
    const server = await receiver(true);
    server.refuseEvent = (event) =>
      event.kind === 'metric' && event.step === 1_234 && event.name === 'train/loss'
        ? 'events[1234].value: not accepted here'
        : undefined;
    const { run, spoolDirectory } = httpRun(server.url);
    await logRounds(run, 3, 1_000);
    const report = await run.end();
    expect(server.events.size).toBe(6_001);
    // Columns were in use (the refusal did not turn them off: the objects were refused too).
    expect(server.requests.filter((request) => request.status === 200).at(-2)).toMatchObject({
      columnBlocks: 1,
    });
    expect(report.sinks[0]!.failedByReason).toEqual({ rejected: 1 });
    const [record, ...others] = parseJsonl(
      readFileSync(join(spoolDirectory, `${run.id}.refused.jsonl`), 'utf8'),
    );
    expect(others).toEqual([]);
    expect(record!.events).toEqual([
      expect.objectContaining({ kind: 'metric', name: 'train/loss', step: 1_234 }),
    ]);
  });

  it('sends objects from then on to a server that announces columns but refuses them, losing nothing', async () => {
    const server = await receiver(true);
    server.refuseMetricColumns = true;
    const { run, warnings } = httpRun(server.url);
    await logRounds(run, 4, 500);
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(server.events.size).toBe(4_002);
    expect(server.duplicates).toBe(0);
    // One refused columns request, sent again as objects; objects only after it.
    expect(server.requests.filter((request) => request.status === 400)).toHaveLength(1);
    expect(warnings.filter((warning) => warning.includes('refused them'))).toHaveLength(1);
  });

  for (const metricColumns of [true, false]) {
    it(`replays what it spooled (runs of points kept as columns) to a server ${metricColumns ? 'that takes columns, as columns' : 'that does not, as objects'}: every point once, in order`, async () => {
      const server = await receiver(metricColumns);
      const { run, warnings, spoolDirectory } = httpRun(server.url, 200);
      run.logMetric('warmup', 1);
      await run.flush(); // the sink learns what the server takes
      // A loop that never yields: past 200 waiting events every batch goes to the spool.
      for (let step = 0; step < 3_000; step++) {
        run.logMetric('train/loss', step === 7 ? Number.NaN : 1 / (step + 1), { step });
        run.logMetric('eval/acc', step / 3_000, { step, labels: { split: 'val' } });
      }
      expect(warnings.join('\n')).toMatch(/more than 200 events are waiting/);
      const report = await run.end();
      expect(report.ok).toBe(true);
      expect(server.events.size).toBe(6_003);
      expect(server.duplicates).toBe(0);
      const replayed = server.requests.slice(1, -1);
      expect(replayed.length).toBeGreaterThan(0);
      for (const request of replayed) {
        if (metricColumns) expect(request.columnBlocks).toBeGreaterThan(0);
        else expect(request.columnBlocks).toBeUndefined();
      }
      const loss = server.metricValues('train/loss');
      expect(loss).toHaveLength(3_000);
      expect(loss[7]).toBe('nan');
      expect(loss[2_999]).toBe(1 / 3_000);
      expect(server.arrivals.at(-1)!.kind).toBe('done');
      // Replayed and removed: nothing is left for a sync.
      expect(readdirSync(spoolDirectory)).toEqual([]);
    });
  }

  it('replays the spool two requests at a time while the server answers, never more, done last', async () => {
    const server = await receiver(true);
    // Requests of at most 1,000 events (the server says so in its acknowledgement).
    server.maxEventsPerBatch = 1_000;
    const { run } = httpRun(server.url, 200);
    run.logMetric('warmup', 1);
    await run.flush();
    for (let step = 0; step < 10_000; step++) run.logMetric('m', step, { step });
    // Slow answers from here on, so a second request could start while one waits.
    server.delayNext(8, 100);
    const report = await run.end('completed', { timeoutMs: 30_000 });
    expect(report.ok).toBe(true);
    expect(server.events.size).toBe(10_003);
    expect(server.duplicates).toBe(0);
    expect(server.maxRequestsInFlight).toBe(2);
    expect(server.arrivals.at(-1)!.kind).toBe('done');
    expect(server.metricValues('m')).toEqual(Array.from({ length: 10_000 }, (_, step) => step));
  });
});
