import { createHttpSink, type MetricEvent, Run } from '@livestep/core';
import { encodeMetricColumns } from '@livestep/core/protocol';
import { describe, expect, it } from 'vitest';
import { TestRun } from '../test-support/make-events.js';
import { postJson, startTestServer, temporaryFolder } from '../test-support/start-test-server.js';

/** Ids as core's Run makes them: a run-wide prefix, then the seq in 12 hex digits. */
const PREFIX = '6f1c0a52-3f7e-8d7b-9f0e-';
const prefixedId = (seq: number) => PREFIX + seq.toString(16).padStart(12, '0');

function points(count: number, from = 1): MetricEvent[] {
  return Array.from({ length: count }, (_, index) => {
    const seq = from + index;
    return {
      id: prefixedId(seq),
      seq,
      ts: 1_700_000_000_000 + seq,
      kind: 'metric',
      name: seq % 2 ? 'train/loss' : 'train/acc',
      value: seq === 5 ? 'nan' : seq === 6 ? 'inf' : seq === 7 ? '-inf' : seq / 100,
      step: seq >> 1,
    } satisfies MetricEvent;
  });
}

function columnsBatch(run: TestRun, events: MetricEvent[]) {
  const block = encodeMetricColumns(events)!;
  return { protocol: 1, run: run.identity, events: [run.start(), block] };
}

describe('POST /api/v1/batches with metric columns', () => {
  it('stores columns, NaN and the infinities kept, and a replay in either form stores nothing twice', async () => {
    const server = await startTestServer();
    const run = new TestRun();
    const events = points(200);
    const batch = columnsBatch(run, events);
    const first = await postJson(`${server.url}/api/v1/batches`, batch);
    expect(first).toMatchObject({
      status: 200,
      body: { stored: 201, duplicates: 0, capabilities: ['metric-columns'] },
    });
    expect(first.body.maxBatchEvents).toEqual(expect.any(Number));
    // The same batch again, then the same points as event objects: all of them duplicates.
    const again = await postJson(`${server.url}/api/v1/batches`, batch);
    expect(again.body).toMatchObject({ stored: 0, duplicates: 201 });
    const asObjects = await postJson(`${server.url}/api/v1/batches`, {
      protocol: 1,
      run: run.identity,
      events,
    });
    expect(asObjects.body).toMatchObject({ stored: 0, duplicates: 200 });
    expect(await server.store.counts()).toMatchObject({ runs: 1, points: 200, events: 201 });
    const loss = await server.store.history(run.identity.id, 'train/loss', { limit: 200 });
    const acc = await server.store.history(run.identity.id, 'train/acc', { limit: 10 });
    expect(loss.items.find((point) => point.step === 2)!.value).toBeNaN();
    expect(acc.items.find((point) => point.step === 3)!.value).toBe(Number.POSITIVE_INFINITY);
    expect(loss.items.find((point) => point.step === 3)!.value).toBe(Number.NEGATIVE_INFINITY);
    expect(loss.items.find((point) => point.step === 10)).toMatchObject({ value: 0.21 });
  });

  it('stores points sent as objects first, then in a block overlapping them, once each', async () => {
    const server = await startTestServer();
    const run = new TestRun();
    const events = points(300);
    await postJson(`${server.url}/api/v1/batches`, {
      protocol: 1,
      run: run.identity,
      events: events.slice(100, 150),
    });
    // A block of 300 of which 50 are stored: new and seen ids mixed in one chunk of ids.
    const answer = await postJson(`${server.url}/api/v1/batches`, columnsBatch(run, events));
    expect(answer.body).toMatchObject({ stored: 251, duplicates: 50 });
    expect((await server.store.counts()).points).toBe(300);
  });

  it.each<[string, (block: Record<string, unknown>) => void, string]>([
    ['a value that is text', (b) => ((b.values as unknown[])[3] = 'high'), 'events[1].values[3]'],
    ['a step below 0', (b) => ((b.stepDeltas as number[])[0] = -1), 'events[1].stepDeltas[0]'],
    [
      'a name index past names',
      (b) => ((b.nameIndex as number[])[9] = 7),
      'events[1].nameIndex[9]',
    ],
    ['a path-like name', (b) => ((b.names as string[])[0] = '../x'), 'events[1].names[0]'],
    ['a short column', (b) => (b.tsDeltas as number[]).pop(), 'events[1].tsDeltas'],
    ['no ids', (b) => delete b.idPrefix, 'events[1].idPrefix'],
  ])('refuses a block with %s: 400 naming the field, nothing stored', async (_, spoil, path) => {
    const server = await startTestServer();
    const run = new TestRun();
    const batch = JSON.parse(JSON.stringify(columnsBatch(run, points(20))));
    spoil(batch.events[1]);
    const answer = await postJson(`${server.url}/api/v1/batches`, batch);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toContain(path);
    expect(await server.store.counts()).toMatchObject({ runs: 0, events: 0, points: 0 });
  });

  it('counts the points of a block against the batch limit (413)', async () => {
    const server = await startTestServer({ limits: { maxBatchEvents: 10 } });
    const answer = await postJson(
      `${server.url}/api/v1/batches`,
      columnsBatch(new TestRun(), points(20)),
    );
    expect(answer.status).toBe(413);
    expect(answer.body.message).toContain('21 events');
  });

  it("stores what core's HTTP sink sends in columns, every point once", async () => {
    const server = await startTestServer();
    const run = new Run({
      experiment: 'sink',
      name: 'columns',
      sinks: [
        createHttpSink({ url: server.url, spoolDirectory: temporaryFolder(), onWarning() {} }),
      ],
      exitHooks: false,
      collectGit: false,
    });
    for (let round = 0; round < 3; round++) {
      for (let step = round * 1_000; step < (round + 1) * 1_000; step++) {
        run.logMetric('train/loss', step === 1_500 ? Number.NaN : 1 / (step + 1), { step });
        run.logMetric('eval/acc', step / 3_000, { step, labels: { split: 'val' } });
      }
      await run.flush();
    }
    const report = await run.end('completed');
    expect(report.ok).toBe(true);
    expect(await server.store.counts()).toMatchObject({ points: 6_000, events: 6_002 });
    expect(await server.store.getRun(run.id)).toMatchObject({ state: 'completed' });
    const loss = await server.store.history(run.id, 'train/loss', { limit: 3_000 });
    expect(loss.items).toHaveLength(3_000);
    expect(loss.items[1_500]!.value).toBeNaN();
    const metrics = await server.store.listSeries(run.id);
    expect(metrics.map((series) => series.name).sort()).toEqual([
      'eval/acc/split=val',
      'train/loss',
    ]);
  });
});
