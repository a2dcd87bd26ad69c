import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricEvent, RunEvent } from '@livestep/core';
import { encodeMetricColumns } from '@livestep/core/protocol';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { TestRun } from '../../test-support/make-events.js';
import { openTestStore } from '../../test-support/open-test-store.js';
import type { IngestBatch } from '../run-store.js';
import { migrate } from './sqlite-migrations.js';
import { DATABASE_FILE, SqliteRunStore } from './sqlite-run-store.js';

const open = (directory = ':memory:') => openTestStore({ directory });

function metrics(run: TestRun, count: number): MetricEvent[] {
  return Array.from(
    { length: count },
    (_, step) => run.metric('loss', step / 10, step) as MetricEvent,
  );
}

function asColumns(run: TestRun, events: MetricEvent[]): IngestBatch {
  return {
    run: run.identity,
    events: [],
    metricColumns: [encodeMetricColumns(events)!],
    source: 'protocol',
  };
}

/** A deterministic shuffle (xorshift), so a failure reproduces. */
function shuffled<T>(items: T[], seed: number): T[] {
  const result = [...items];
  let state = seed;
  for (let index = result.length - 1; index > 0; index--) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const other = (state >>> 0) % (index + 1);
    [result[index], result[other]] = [result[other]!, result[index]!];
  }
  return result;
}

describe('idempotent ingest of ids made from a run-wide prefix (core Run ids)', () => {
  it('stores each point once through retries, overlaps, gaps and repeats in one request, in either form', async () => {
    const store = open();
    const run = new TestRun('tests', 'run', 1_700_000_000_000, 'prefixed');
    const events = metrics(run, 1_000);
    // Out of order and overlapping, as two requests in flight and a retry deliver them.
    const [a] = await store.ingest([asColumns(run, events.slice(500, 700))]);
    const [b] = await store.ingest([run.ingest(events.slice(0, 300))]);
    const [c] = await store.ingest([asColumns(run, events.slice(250, 600))]);
    expect([a!.stored, b!.stored, c!.stored]).toEqual([200, 300, 200]);
    expect(c!.duplicates).toBe(150);
    // The same point twice in one request: stored once.
    const repeated = [events[800]!, events[700]!, events[800]!, events[701]!];
    const [d] = await store.ingest([run.ingest(repeated)]);
    expect(d).toMatchObject({ stored: 3, duplicates: 1 });
    // A replay of the whole run, in both forms: nothing new.
    const [e] = await store.ingest([asColumns(run, events)]);
    expect(e).toMatchObject({ stored: 1_000 - 703, duplicates: 703 });
    const [f] = await store.ingest([run.ingest(events)]);
    expect(f).toMatchObject({ stored: 0, duplicates: 1_000 });
    expect(await store.counts()).toMatchObject({ events: 1_000, points: 1_000 });
    expect(await store.hasEvent(run.identity.id, events[999]!.id)).toBe(true);
    const unsent = run.metric('loss', 1, 1_000);
    expect(await store.hasEvent(run.identity.id, unsent.id)).toBe(false);
    expect(await store.hasEvent(new TestRun().identity.id, events[0]!.id)).toBe(false);
    const [series] = await store.listSeries(run.identity.id);
    expect(series).toMatchObject({ count: 1_000, latest: { step: 999 } });
  });

  it('agrees with a set of ids over random batches of scattered, repeated seqs', async () => {
    const store = open();
    const run = new TestRun('tests', 'run', 1_700_000_000_000, 'prefixed');
    const events = metrics(run, 3_000);
    const seen = new Set<string>();
    let seed = 12_345;
    for (let round = 0; round < 60; round++) {
      seed = (seed * 1_103_515_245 + 12_345) >>> 0;
      const size = 1 + (seed % 200);
      const start = (seed >>> 8) % events.length;
      const batch: MetricEvent[] = [];
      for (let index = 0; index < size; index++) {
        // Mostly runs of consecutive seqs, with jumps and repeats.
        const at = (start + index * (1 + ((seed >>> (index % 16)) & 3 ? 0 : 7))) % events.length;
        batch.push(events[at]!);
      }
      const order = shuffled(batch, seed | 1);
      const expected = new Set(order.map((event) => event.id).filter((id) => !seen.has(id)));
      const form = round % 2 === 0 ? run.ingest(order) : asColumns(run, order);
      const [result] = await store.ingest([form]);
      expect(result!.stored).toBe(expected.size);
      expect(result!.duplicates).toBe(order.length - expected.size);
      for (const id of expected) seen.add(id);
    }
    expect(await store.counts()).toMatchObject({ events: seen.size, points: seen.size });
  });

  it('treats a prefix-shaped id whose digits are not its seq as any other id', async () => {
    const store = open();
    const run = new TestRun('tests', 'run', 1_700_000_000_000, 'prefixed');
    const [first, second] = metrics(run, 2) as [MetricEvent, MetricEvent];
    // seq 1 under the id of seq 0: another event, stored once, and not mistaken for seq 0's.
    const odd: RunEvent = { ...second, id: first.id.replace(/0$/, '7') };
    const [a] = await store.ingest([run.ingest([first, odd])]);
    const [b] = await store.ingest([run.ingest([odd, first])]);
    expect([a!.stored, b!.stored]).toEqual([2, 0]);
    const [c] = await store.ingest([run.ingest([second])]);
    expect(c!.stored).toBe(1);
  });

  it('takes an id spelled in upper case as the same event (its bytes are the same)', async () => {
    const store = open();
    const run = new TestRun('tests', 'run', 1_700_000_000_000, 'prefixed');
    const events = metrics(run, 300);
    const shouted = events.slice(0, 200).map((event) => ({ ...event, id: event.id.toUpperCase() }));
    const [a] = await store.ingest([run.ingest(shouted)]);
    const [b] = await store.ingest([asColumns(run, events)]);
    expect([a!.stored, b!.stored, b!.duplicates]).toEqual([200, 100, 200]);
  });

  it('keeps finding the ids of runs stored before ranges existed (a data folder from version 2)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'livestep-event-ids-'));
    const run = new TestRun('tests', 'old', 1_700_000_000_000, 'prefixed');
    const start = run.start();
    const events = metrics(run, 500);
    {
      const writer = new SqliteRunStore({ directory });
      await writer.ingest([run.ingest([start]), asColumns(run, events.slice(0, 300))]);
      await writer.close();
      // As version 2 left it: every id in event_ids (16 bytes: the prefix, then the seq), no
      // ranges, no legacy flag, schema 2.
      const database = new Database(join(directory, DATABASE_FILE));
      const prefix = Buffer.from(run.idPrefix!.replaceAll('-', ''), 'hex');
      const insert = database.prepare('INSERT INTO event_ids (id) VALUES (?)');
      for (const [first, last] of database
        .prepare('SELECT first_seq, last_seq FROM event_seq_ranges')
        .raw()
        .all() as Array<[number, number]>) {
        for (let seq = first; seq <= last; seq++) {
          const id = Buffer.alloc(16);
          prefix.copy(id);
          id.writeUIntBE(seq, 10, 6);
          insert.run(id);
        }
      }
      database.exec(`DROP TABLE event_seq_ranges; ALTER TABLE runs DROP COLUMN legacy_event_ids;
        DELETE FROM schema_migrations WHERE version = 3;`);
      expect(migrate(database)).toEqual([3]);
      database.close();
    }
    const store = open(directory);
    expect(await store.counts()).toMatchObject({ events: 301, points: 300 });
    expect(await store.hasEvent(run.identity.id, events[299]!.id)).toBe(true);
    // The old batches replayed (a spool, a sync), then the rest of the run.
    const [replayed] = await store.ingest([asColumns(run, events.slice(0, 300))]);
    expect(replayed).toMatchObject({ stored: 0, duplicates: 300 });
    const [objects] = await store.ingest([run.ingest([start, ...events.slice(200, 300)])]);
    expect(objects).toMatchObject({ stored: 0, duplicates: 101 });
    const [rest] = await store.ingest([asColumns(run, events.slice(250))]);
    expect(rest).toMatchObject({ stored: 200, duplicates: 50 });
    expect(await store.counts()).toMatchObject({ events: 501, points: 500 });
    // A run begun after the upgrade is recorded in ranges, and just as idempotent.
    const fresh = new TestRun('tests', 'new', 1_700_000_000_000, 'prefixed');
    const freshEvents = metrics(fresh, 100);
    await store.ingest([asColumns(fresh, freshEvents)]);
    const [again] = await store.ingest([fresh.ingest(freshEvents)]);
    expect(again).toMatchObject({ stored: 0, duplicates: 100 });
    expect(await store.counts()).toMatchObject({ events: 601, points: 600 });
  });
});
