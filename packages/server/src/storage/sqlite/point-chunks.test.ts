// Points in chunks (point-chunks.ts): what a reader of the store relies on, whatever the chunks:
// history pages in (step, seq) order with nothing skipped or repeated, step ranges that count
// every point once, and a data folder of schema 3 (a row a point) moved into chunks on open.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { TestRun } from '../../test-support/make-events.js';
import { openTestStore } from '../../test-support/open-test-store.js';
import { CHUNK_POINTS, CHUNK_STEP_SPAN, SMALL_CHUNK_POINTS } from './point-chunks.js';
import { MIGRATIONS, migrate } from './sqlite-migrations.js';
import { DATABASE_FILE, type SqliteRunStore } from './sqlite-run-store.js';

const open = (directory = ':memory:') => openTestStore({ directory });

/** Every point of a series through history pages of `limit`, as [step, value]. */
async function pageThrough(store: SqliteRunStore, runId: string, name: string, limit: number) {
  const seen: Array<[number, number]> = [];
  let cursor: string | undefined;
  do {
    const page = await store.history(runId, name, { limit, ...(cursor && { cursor }) });
    seen.push(...page.items.map((point): [number, number] => [point.step, point.value]));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return seen;
}

describe('points in chunks', () => {
  it('pages through overlapping commits and chunks past their size in (step, seq) order, each point once', async () => {
    const store = open();
    const run = new TestRun();
    // Three commits whose steps interleave (points that arrive late, out of order), one of them
    // longer than a chunk, and a step logged twice (two seqs).
    const commits: Array<Array<[step: number, value: number]>> = [[], [], []];
    for (let step = 0; step < CHUNK_POINTS * 2 + 100; step++) {
      commits[step % 3 === 0 ? 0 : step % 3 === 1 ? 1 : 2]!.push([step, step]);
    }
    commits[2]!.push([10, -10]);
    for (const points of [commits[1]!, commits[0]!.reverse(), commits[2]!]) {
      await store.ingest([
        run.ingest(points.map(([step, value]) => run.metric('loss', value, step))),
      ]);
    }
    const total = CHUNK_POINTS * 2 + 101;
    expect((await store.counts()).points).toBe(total);
    for (const limit of [1, 7, 1_000, 10_000]) {
      const seen = await pageThrough(store, run.identity.id, 'loss', limit);
      expect(seen, `pages of ${limit}`).toHaveLength(total);
      const steps = seen.map(([step]) => step);
      expect(steps).toEqual([...steps].sort((a, b) => a - b));
      // Step 10 twice: first the value logged first (its seq is lower).
      expect(seen.filter(([step]) => step === 10)).toEqual([
        [10, 10],
        [10, -10],
      ]);
    }
  });

  it('finds every point of a zoomed step range, with steps far apart in one commit', async () => {
    const store = open();
    const run = new TestRun();
    // Steps spread over more than a chunk may span, in one commit, out of order.
    const steps = [5, CHUNK_STEP_SPAN * 3 + 1, 7, CHUNK_STEP_SPAN + 2, CHUNK_STEP_SPAN, 6];
    await store.ingest([run.ingest(steps.map((step) => run.metric('loss', step * 2, step)))]);
    const all = await pageThrough(store, run.identity.id, 'loss', 2);
    expect(all.map(([step]) => step)).toEqual([...steps].sort((a, b) => a - b));
    // A zoom that reads raw points: each in range counted once, none outside.
    const zoomed = await store.downsample(run.identity.id, 'loss', {
      points: 1_000_000,
      x: 'step',
      from: CHUNK_STEP_SPAN,
      to: CHUNK_STEP_SPAN + 2,
    });
    expect(zoomed.buckets.map((bucket) => [bucket.lastStep, bucket.count, bucket.last])).toEqual([
      [CHUNK_STEP_SPAN, 1, CHUNK_STEP_SPAN * 2],
      [CHUNK_STEP_SPAN + 2, 1, (CHUNK_STEP_SPAN + 2) * 2],
    ]);
  });

  it('moves the points of a schema 3 data folder (a row a point) into chunks when it opens it', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'livestep-chunks-'));
    const run = new TestRun();
    // Written by the store as it was at schema 3: the migrations up to 3, then the points.
    const database = new Database(join(directory, DATABASE_FILE));
    migrate(
      database,
      MIGRATIONS.filter((migration) => migration.version <= 3),
    );
    database
      .prepare(
        "INSERT INTO runs (run_key, id, experiment, name, source, status, created_at, last_event_at) VALUES (1, ?, 'tests', 'run', 'protocol', 'completed', 0, 0)",
      )
      .run(run.identity.id);
    database
      .prepare(
        `INSERT INTO series (series_key, run_key, name, metric, count, nan_count, min_value, max_value,
           min_step, first_ts, latest_step, latest_seq, latest_value, latest_ts, last_step, last_seq,
           last_value, last_ts)
         VALUES (1, 1, 'loss', 'loss', 5000, 1, 0, 4999, 0, 0, 4999, 4999, 4999, 4999, 4999, 4999, 4999, 4999)`,
      )
      .run();
    const insert = database.prepare('INSERT INTO points VALUES (1, ?, ?, ?, ?)');
    for (let step = 4_999; step >= 0; step--) {
      insert.run(step, step, 1_700_000_000_000 + step, step === 3 ? null : step);
    }
    database.close();

    const store = open(directory);
    expect((await store.counts()).points).toBe(5_000);
    const seen = await pageThrough(store, run.identity.id, 'loss', 999);
    expect(seen).toHaveLength(5_000);
    expect(seen.map(([step]) => step)).toEqual(Array.from({ length: 5_000 }, (_, step) => step));
    expect(seen[3]![1]).toBeNaN(); // NULL was NaN
    expect(seen[4_999]).toEqual([4_999, 4_999]);
    await store.close();
    const reopened = new Database(join(directory, DATABASE_FILE), { readonly: true });
    const tables = reopened
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'point%'")
      .pluck()
      .all();
    expect(tables).toEqual(['point_chunks']);
    reopened.close();
  });

  it('grows the last chunk of a live run (a point a commit) instead of a row a point, and a late point still pages in order', async () => {
    const store = open();
    const run = new TestRun();
    for (let step = 0; step < 300; step++) {
      await store.ingest([
        run.ingest([run.metric('loss', step, step), run.metric('acc', step / 300, step)]),
      ]);
    }
    // A point that comes late (an earlier step), then more in order.
    await store.ingest([run.ingest([run.metric('loss', -1, 150)])]);
    for (let step = 300; step < 310; step++) {
      await store.ingest([run.ingest([run.metric('loss', step, step)])]);
    }
    const rows = store.database
      .prepare(
        'SELECT s.name, count(*) AS chunks, sum(c.count) AS points FROM point_chunks c JOIN series s USING (series_key) GROUP BY s.name ORDER BY s.name',
      )
      .all();
    // 256 points, then the rest; the late point in a chunk of its own.
    expect(rows).toEqual([
      { name: 'acc', chunks: Math.ceil(300 / SMALL_CHUNK_POINTS), points: 300 },
      { name: 'loss', chunks: Math.ceil(310 / SMALL_CHUNK_POINTS) + 1, points: 311 },
    ]);
    const seen = await pageThrough(store, run.identity.id, 'loss', 64);
    expect(seen).toHaveLength(311);
    const steps = seen.map(([step]) => step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(seen.filter(([step]) => step === 150)).toEqual([
      [150, 150],
      [150, -1],
    ]);
    expect(seen.at(-1)).toEqual([309, 309]);
  });

  it('pages past a point stored twice (same step and seq, another id) without stopping short', async () => {
    const store = open();
    const run = new TestRun();
    const first = [run.metric('loss', 1, 1), run.metric('loss', 2, 2)];
    await store.ingest([run.ingest(first)]);
    // A protocol client with its own ids sends the same points again under new ones.
    await store.ingest([run.ingest(first.map((event) => ({ ...event, id: randomUUID() })))]);
    // More than the first chunk can take: a chunk of their own, after the two that repeat.
    const later = Array.from({ length: CHUNK_POINTS }, (_, offset) =>
      run.metric('loss', offset + 3, offset + 3),
    );
    await store.ingest([run.ingest(later)]);
    const expected = Array.from({ length: CHUNK_POINTS + 2 }, (_, offset) => [
      offset + 1,
      offset + 1,
    ]);
    for (const limit of [1, 2, 3, 10]) {
      const seen = await pageThrough(store, run.identity.id, 'loss', limit);
      expect(seen, `pages of ${limit}`).toEqual(expected);
    }
  });

  it('finds every point of a time range whose edge block is read point by point', async () => {
    const store = open();
    const run = new TestRun();
    // 2,048 steps in about 100 ms: the series' time span is far less than its chunk's step span.
    const t0 = 1_700_000_000_000;
    const events = [];
    for (let step = 0; step < 2_048; step++) {
      run.ts = t0 + Math.floor(step / 20);
      events.push(run.metric('loss', step, step));
    }
    await store.ingest([run.ingest(events)]);
    const zoomed = await store.downsample(run.identity.id, 'loss', {
      points: 2,
      x: 'time',
      from: t0 + 50,
      to: t0 + 102,
    });
    // Every step whose ts is in [t0 + 50, t0 + 102]: steps 1,000 to 2,047.
    const counted = zoomed.buckets.reduce((sum, bucket) => sum + bucket.count, 0);
    expect(counted).toBe(2_048 - 1_000);
    expect(Math.min(...zoomed.buckets.map((bucket) => bucket.firstStep))).toBe(1_000);
  });
});
