import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { TestRun } from '../../test-support/make-events.js';
import { openTestStore } from '../../test-support/open-test-store.js';
import { MIGRATIONS } from './sqlite-migrations.js';
import { DATABASE_FILE, SqliteRunStore } from './sqlite-run-store.js';

const open = openTestStore;

describe('SqliteRunStore ingest', () => {
  it('stores a batch once however often it is sent, and keeps NaN and ±inf', async () => {
    const store = open();
    const run = new TestRun();
    const events = [
      run.start(),
      run.metric('train/loss', 0.5, 0),
      run.metric('train/loss', 'nan', 1),
      run.metric('train/loss', 'inf', 2),
      run.metric('train/loss', '-inf', 3),
    ];
    const [first] = await store.ingest([run.ingest(events)]);
    expect(first).toMatchObject({ stored: 5, duplicates: 0, state: 'running', stateChanged: true });
    const [second] = await store.ingest([run.ingest(events)]);
    expect(second).toMatchObject({ stored: 0, duplicates: 5, stateChanged: false });
    expect((await store.counts()).points).toBe(4);
    const page = await store.history(run.identity.id, 'train/loss', { limit: 10 });
    expect(page.items.map((point) => point.value)).toEqual([
      0.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    const [series] = await store.listSeries(run.identity.id);
    expect(series).toMatchObject({
      name: 'train/loss',
      count: 4,
      nanCount: 1,
      min: Number.NEGATIVE_INFINITY,
      max: Number.POSITIVE_INFINITY,
      latest: { step: 3, value: Number.NEGATIVE_INFINITY },
    });
  });

  it('stores metrics named like Object.prototype members (toString, valueOf, hasOwnProperty)', async () => {
    const store = open();
    const run = new TestRun('tests', 'run', 1_700_000_000_000, 'prefixed');
    const names = ['toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];
    const [committed] = await store.ingest([
      run.ingest([run.start(), ...names.map((name, step) => run.metric(name, step, step))]),
    ]);
    expect(committed).toMatchObject({ stored: 5, duplicates: 0 });
    expect(Object.keys(committed!.points).sort()).toEqual([...names].sort());
    expect((await store.listSeries(run.identity.id)).map((series) => series.name).sort()).toEqual(
      [...names].sort(),
    );
  });

  it('records an event whose seq is past what the last 6 bytes of an id hold by its id', async () => {
    const store = open();
    const run = new TestRun('tests', 'run', 1_700_000_000_000, 'prefixed');
    const prefix = run.idPrefix!;
    const start = run.start();
    // 2^48 does not fit in 12 hex digits; the quick test of the id's digits must not take it.
    const large = { ...run.metric('loss', 1, 0), id: `${prefix}100000000000`, seq: 2 ** 48 };
    const [first] = await store.ingest([run.ingest([start, large])]);
    expect(first).toMatchObject({ stored: 2 });
    // Recorded as the id it is (not as a seq range it does not fit), and a retry is a duplicate.
    expect(await store.hasEvent(run.identity.id, large.id)).toBe(true);
    const [again] = await store.ingest([run.ingest([large])]);
    expect(again).toMatchObject({ stored: 0, duplicates: 1 });
    expect((await store.counts()).points).toBe(1);
  });

  it('estimates what the unwritten points of a commit hold per series, not only per point', async () => {
    const store = open();
    const run = new TestRun();
    const names = Array.from({ length: 50 }, (_, index) => `m${index}`);
    const [many] = await store.ingest([run.ingest(names.map((name) => run.metric(name, 1, 0)))]);
    // 50 series of one point each: far more than 50 x 48 bytes (a grown V8 array holds 16 doubles).
    expect(many!.memoryBytes).toBeGreaterThan(50 * 150);
    const other = new TestRun();
    const [one] = await store.ingest([
      other.ingest(Array.from({ length: 500 }, (_, step) => other.metric('loss', step, step))),
    ]);
    expect(one!.memoryBytes).toBeGreaterThanOrEqual(500 * 24);
    expect(one!.memoryBytes).toBeLessThan(500 * 48);
  });

  it('stores nothing of a batch whose commit failed, neither then nor with the next batch', async () => {
    const store = open();
    const run = new TestRun();
    const rows: Array<Record<string, unknown>> = [{}];
    rows[0]!.self = rows; // cannot be written: the store throws after taking the points before it
    const failing = [
      run.metric('loss', 1, 0),
      run.metric('loss', 2, 1),
      run.event('plot', { name: 'roc', plotKind: 'roc', rows }),
    ];
    await expect(store.ingest([run.ingest(failing)])).rejects.toThrow();
    const [next] = await store.ingest([run.ingest([run.metric('loss', 3, 2)])]);
    expect(next).toMatchObject({ stored: 1 });
    expect(await store.counts()).toMatchObject({ points: 1, events: 1 });
    const page = await store.history(run.identity.id, 'loss', { limit: 10 });
    expect(page.items.map((point) => point.step)).toEqual([2]);
  });

  it('keeps the latest value by highest step apart from the value logged last', async () => {
    const store = open();
    const run = new TestRun();
    await store.ingest([
      run.ingest([run.metric('eval/acc', 0.9, 10), run.metric('eval/acc', 0.5, 3)]),
    ]);
    const [series] = await store.listSeries(run.identity.id);
    expect(series!.latest).toMatchObject({ step: 10, value: 0.9 });
    expect(series!.lastLogged).toMatchObject({ step: 3, value: 0.5 });
  });

  it('merges params deeply, and a "__proto__" key stays an ordinary key', async () => {
    const store = open();
    const run = new TestRun();
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "model": {"layers": 2}}');
    await store.ingest([
      run.ingest([run.params({ lr: 0.1, model: { units: 8 } }), run.params(hostile)]),
    ]);
    const record = await store.getRun(run.identity.id);
    expect(record!.params).toEqual(
      JSON.parse(
        '{"lr": 0.1, "model": {"units": 8, "layers": 2}, "__proto__": {"polluted": true}}',
      ),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(record!.params)).toBe(Object.prototype);
  });

  it('ends a run with done, and records start details', async () => {
    const store = open();
    const run = new TestRun('iris', 'baseline');
    await store.ingest([
      run.ingest([
        run.start({ tags: ['a', 'b'], message: 'try', git: { sha: 'abc', dirty: false } }),
        run.done('failed', { 'eval/acc': 'nan' }),
      ]),
    ]);
    const record = await store.getRun(run.identity.id);
    expect(record).toMatchObject({
      experiment: 'iris',
      name: 'baseline',
      state: 'failed',
      tags: ['a', 'b'],
      message: 'try',
      git: { sha: 'abc', dirty: false },
      summary: { 'eval/acc': 'nan' },
    });
  });

  it('refuses a database whose schema is newer than it knows', () => {
    const directory = mkdtempSync(join(tmpdir(), 'livestep-store-'));
    new SqliteRunStore({ directory }).close();
    const database = new Database(join(directory, DATABASE_FILE));
    database.prepare('INSERT INTO schema_migrations VALUES (99, ?, ?)').run('future', Date.now());
    database.close();
    const newest = Math.max(...MIGRATIONS.map((migration) => migration.version));
    expect(() => new SqliteRunStore({ directory })).toThrow(
      `schema version 99, newer than this server knows (${newest})`,
    );
  });

  it('survives a reopen: runs, points and summaries are on disk', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'livestep-store-'));
    const run = new TestRun();
    const first = new SqliteRunStore({ directory });
    await first.ingest([run.ingest([run.metric('loss', 1, 0), run.metric('loss', 2, 1)])]);
    await first.close();
    const second = open({ directory });
    await second.ingest([run.ingest([run.metric('loss', 3, 2)])]);
    const [series] = await second.listSeries(run.identity.id);
    expect(series).toMatchObject({ count: 3, min: 1, max: 3, latest: { step: 2, value: 3 } });
  });
});

describe('SqliteRunStore history', () => {
  it('pages in step order with a cursor that never skips or repeats, also while points arrive', async () => {
    const store = open();
    const run = new TestRun();
    // Two points at some steps (a metric logged twice in one step) and steps out of order.
    const events = [];
    for (let step = 0; step < 250; step++) {
      events.push(run.metric('loss', step, step));
      if (step % 7 === 0) events.push(run.metric('loss', -step, step));
    }
    events.reverse();
    await store.ingest([run.ingest(events)]);
    const seen: Array<[number, number]> = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.history(run.identity.id, 'loss', {
        limit: 13,
        ...(cursor && { cursor }),
      });
      seen.push(...page.items.map((point): [number, number] => [point.step, point.value]));
      cursor = page.nextCursor;
      if (pages++ === 3) {
        // Added behind the cursor (step 1) and ahead of it (step 400): the first is not in this
        // paging (it is behind), the second is, exactly once.
        await store.ingest([
          run.ingest([run.metric('loss', 1000, 1), run.metric('loss', 400, 400)]),
        ]);
      }
    } while (cursor !== undefined);
    const expectedSteps = events.length + 1;
    expect(seen).toHaveLength(expectedSteps);
    const steps = seen.map(([step]) => step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(steps.at(-1)).toBe(400);
  });

  it('answers a cursor it did not make with a clear error', async () => {
    const store = open();
    const run = new TestRun();
    await store.ingest([run.ingest([run.metric('loss', 1, 0)])]);
    await expect(
      store.history(run.identity.id, 'loss', { limit: 5, cursor: 'bogus' }),
    ).rejects.toThrow(/cursor is not one this server gave out/);
  });
});

describe('SqliteRunStore downsample', () => {
  async function storeWithSeries(points: number, spikeAt: number) {
    const store = open();
    const run = new TestRun();
    for (let start = 0; start < points; start += 5_000) {
      const events = [];
      for (let step = start; step < Math.min(points, start + 5_000); step++) {
        events.push(run.metric('loss', step === spikeAt ? 1e6 : Math.sin(step), step));
      }
      await store.ingest([run.ingest(events)]);
    }
    return { store, run };
  }

  it('builds ~N buckets from summaries, counting every point and keeping the spike', async () => {
    const { store, run } = await storeWithSeries(100_000, 77_777);
    const view = await store.downsample(run.identity.id, 'loss', { points: 1_000, x: 'step' });
    expect(view.blockSize).toBeGreaterThan(0);
    expect(view.buckets.length).toBeGreaterThan(900);
    expect(view.buckets.length).toBeLessThanOrEqual(1_000);
    expect(view.buckets.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(100_000);
    expect(Math.max(...view.buckets.map((bucket) => bucket.max!))).toBe(1e6);
    const last = view.buckets.at(-1)!;
    expect(last).toMatchObject({ x: 99_999, last: Math.sin(99_999), lastStep: 99_999 });
  });

  it('zooms into a step range with raw points at its edges, every point in range counted once', async () => {
    const { store, run } = await storeWithSeries(20_000, 10_001);
    const view = await store.downsample(run.identity.id, 'loss', {
      points: 50,
      x: 'step',
      from: 9_990,
      to: 12_345,
    });
    expect(view.buckets.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(12_345 - 9_990 + 1);
    expect(view.buckets[0]!.firstStep).toBe(9_990);
    expect(view.buckets.at(-1)!.lastStep).toBe(12_345);
    expect(Math.max(...view.buckets.map((bucket) => bucket.max!))).toBe(1e6);
  });

  it('matches a brute-force min/max/last/count on every bucket, at any width', async () => {
    const { store, run } = await storeWithSeries(30_000, 5);
    for (const points of [7, 100, 333, 2_000]) {
      const view = await store.downsample(run.identity.id, 'loss', { points, x: 'step' });
      for (const bucket of view.buckets) {
        const values = [];
        for (let step = bucket.firstStep; step <= bucket.lastStep; step++) {
          values.push(step === 5 ? 1e6 : Math.sin(step));
        }
        expect(bucket.count).toBe(values.length);
        expect(bucket.min).toBe(Math.min(...values));
        expect(bucket.max).toBe(Math.max(...values));
        expect(bucket.last).toBe(values.at(-1));
      }
    }
  });

  it('buckets by time and by time since the run started', async () => {
    const { store, run } = await storeWithSeries(10_000, 42);
    const byTime = await store.downsample(run.identity.id, 'loss', { points: 100, x: 'time' });
    expect(byTime.buckets.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(10_000);
    expect(byTime.buckets.length).toBeLessThanOrEqual(100);
    const relative = await store.downsample(run.identity.id, 'loss', {
      points: 10,
      x: 'relative',
      from: 0,
      to: 999,
    });
    expect(relative.buckets.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(1_000);
    expect(relative.buckets[0]!.x).toBeLessThan(100);
  });

  it('keeps NaN in a bucket count without letting it hide min and max', async () => {
    const store = open();
    const run = new TestRun();
    const events = [];
    for (let step = 0; step < 64; step++)
      events.push(run.metric('loss', step % 2 ? 'nan' : step, step));
    await store.ingest([run.ingest(events)]);
    const view = await store.downsample(run.identity.id, 'loss', { points: 1, x: 'step' });
    expect(view.buckets).toEqual([
      expect.objectContaining({ count: 64, nanCount: 32, min: 0, max: 62, last: Number.NaN }),
    ]);
  });
});

describe('SqliteRunStore runs list', () => {
  async function manyRuns() {
    const store = open();
    const runs: TestRun[] = [];
    for (let index = 0; index < 30; index++) {
      const run = new TestRun(index % 2 ? 'odd' : 'even', `run-${index}`);
      runs.push(run);
      await store.ingest([
        run.ingest([
          run.start({ tags: index % 3 === 0 ? ['three'] : [] }),
          run.params({ lr: index / 100, model: { name: `m${index % 4}` } }),
          run.metric('eval/acc', index / 30, 0),
          run.metric('eval/acc', index % 5 === 0 ? 0.99 : index / 30, 1),
          ...(index % 10 === 9 ? [run.done('completed')] : []),
        ]),
      ]);
    }
    return { store, runs };
  }

  it('filters on experiment, tags, text, state, params and metric summaries', async () => {
    const { store } = await manyRuns();
    const names = async (query: Parameters<SqliteRunStore['listRuns']>[0]) =>
      (await store.listRuns(query)).items.map((run) => run.name).sort();
    expect(await names({ limit: 100, experiment: 'odd', tags: ['three'] })).toEqual([
      'run-15',
      'run-21',
      'run-27',
      'run-3',
      'run-9',
    ]);
    expect(await names({ limit: 100, text: 'run-2' })).toHaveLength(11);
    expect(await names({ limit: 100, states: ['completed'] })).toEqual([
      'run-19',
      'run-29',
      'run-9',
    ]);
    expect(
      await names({
        limit: 100,
        conditions: [
          { field: { type: 'param', path: ['lr'] }, operator: '>', value: 0.25 },
          {
            field: { type: 'metric', name: 'eval/acc', aggregate: 'latest' },
            operator: '>=',
            value: 0.9,
          },
        ],
      }),
    ).toEqual(['run-27', 'run-28', 'run-29']);
    expect(
      await names({
        limit: 100,
        conditions: [
          { field: { type: 'param', path: ['model', 'name'] }, operator: '=', value: 'm3' },
        ],
      }),
    ).toHaveLength(7);
  });

  it('sorts by a metric summary and pages with a cursor through every run once', async () => {
    const { store } = await manyRuns();
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listRuns({
        limit: 4,
        sort: { field: { type: 'metric', name: 'eval/acc', aggregate: 'max' }, descending: true },
        metrics: ['eval/acc'],
        ...(cursor && { cursor }),
      });
      for (const item of page.items) {
        expect(item.metrics!['eval/acc']).toBeDefined();
        seen.push(item.name);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(seen).toHaveLength(30);
    expect(new Set(seen).size).toBe(30);
    // Ties on 0.99 (runs 0, 5, ..., 25) come first, newest first among them.
    expect(seen.slice(0, 6)).toEqual(['run-25', 'run-20', 'run-15', 'run-10', 'run-5', 'run-0']);
  });

  it('shows a silent run as stale, then marks it interrupted; it is running again when it sends', async () => {
    let now = 1_000_000;
    const store = open({
      now: () => now,
      liveness: { staleAfterMs: 1_000, interruptedAfterMs: 5_000 },
    });
    const run = new TestRun();
    await store.ingest([run.ingest([run.start()])]);
    now += 2_000;
    expect((await store.getRun(run.identity.id))!.state).toBe('stale');
    expect(await store.sweepSilentRuns(now)).toEqual([{ run: run.identity, state: 'stale' }]);
    now += 5_000;
    expect(await store.sweepSilentRuns(now)).toEqual([{ run: run.identity, state: 'interrupted' }]);
    expect(await store.getRun(run.identity.id)).toMatchObject({
      state: 'interrupted',
      interruptedByServer: true,
    });
    const [back] = await store.ingest([run.ingest([run.metric('loss', 1, 0)])]);
    expect(back).toMatchObject({ state: 'running', stateChanged: true });
  });
});
