import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { TestRun } from '../../test-support/make-events.js';
import { openTestStore } from '../../test-support/open-test-store.js';
import { MIGRATIONS, migrate } from './sqlite-migrations.js';
import { DATABASE_FILE, SqliteRunStore } from './sqlite-run-store.js';

const open = (directory = ':memory:') => openTestStore({ directory });

const TABLE = { limit: 100, tags: [], conditions: [] };

/** The runs table's entry of each metric, next to the same values from the series summaries. */
async function bothViews(store: SqliteRunStore, run: TestRun, metrics: string[]) {
  const page = await store.listLatestValues({ ...TABLE, metrics });
  const table = page.items.find((item) => item.id === run.identity.id)!.latest;
  const series = await store.listSeries(run.identity.id);
  const fromSeries = metrics.map((name) => {
    const summary = series.find((item) => item.name === name);
    return summary === undefined
      ? null
      : [summary.latest.step, summary.latest.value, summary.lastLogged.value];
  });
  return { table, fromSeries };
}

describe('latest_values (the runs table summary kept at ingest)', () => {
  it('holds the latest value by highest step and the value logged last, as the series do', async () => {
    const store = open();
    const run = new TestRun();
    await store.ingest([
      run.ingest([
        run.start(),
        run.metric('eval/acc', 0.9, 10),
        run.metric('eval/acc', 0.5, 3),
        run.metric('train/loss', 2, 0),
      ]),
    ]);
    await store.ingest([
      run.ingest([run.metric('train/loss', 1, 1), run.metric('train/loss', 3, 1)]),
    ]);
    const { table, fromSeries } = await bothViews(store, run, ['eval/acc', 'train/loss', 'none']);
    expect(table).toEqual([[10, 0.9, 0.5], [1, 3, 3], null]);
    expect(table).toEqual(fromSeries);
    const [accuracy] = await store.listSeries(run.identity.id);
    expect(accuracy).toMatchObject({ name: 'eval/acc', min: 0.5, max: 0.9, count: 2 });
  });

  it('keeps NaN and the infinities', async () => {
    const store = open();
    const run = new TestRun();
    await store.ingest([
      run.ingest([
        run.metric('a', 'nan', 5),
        run.metric('b', 'inf', 1),
        run.metric('b', '-inf', 0),
        run.metric('c', 1, 2),
        run.metric('c', 'nan', 1),
      ]),
    ]);
    const { table, fromSeries } = await bothViews(store, run, ['a', 'b', 'c']);
    expect(table).toEqual([
      [5, Number.NaN, Number.NaN],
      [1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
      [2, 1, Number.NaN],
    ]);
    expect(table).toEqual(fromSeries);
    const series = await store.listSeries(run.identity.id);
    expect(series.find((item) => item.name === 'c')).toMatchObject({ min: 1, max: 1, nanCount: 1 });
  });

  it('follows a resumed run across a reopen of the data folder', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'livestep-latest-'));
    const run = new TestRun();
    const first = new SqliteRunStore({ directory });
    await first.ingest([
      run.ingest([run.start(), run.metric('loss', 4, 0), run.metric('loss', 3, 1)]),
    ]);
    await first.close();
    const second = open(directory);
    // Resumed: a lower step logged again (last logged changes, latest does not), then a new step.
    await second.ingest([run.ingest([run.metric('loss', 9, 0)])]);
    expect((await bothViews(second, run, ['loss'])).table).toEqual([[1, 3, 9]]);
    await second.ingest([run.ingest([run.metric('loss', 2, 2)])]);
    const { table, fromSeries } = await bothViews(second, run, ['loss']);
    expect(table).toEqual([[2, 2, 2]]);
    expect(table).toEqual(fromSeries);
  });

  it('upgrades a version-1 data folder: its series fill latest_values, and ingest keeps them', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'livestep-migrate-'));
    const run = new TestRun();
    // A data folder as the previous version wrote it: schema 1 only.
    const old = new Database(join(directory, DATABASE_FILE));
    expect(
      migrate(
        old,
        MIGRATIONS.filter((migration) => migration.version === 1),
      ),
    ).toEqual([1]);
    old.close();
    {
      // Written through a store, then migration 2 taken out again, as the previous version left it.
      const writer = new SqliteRunStore({ directory });
      await writer.ingest([
        run.ingest([run.start(), run.metric('loss', 5, 3), run.metric('loss', 'nan', 1)]),
      ]);
      await writer.close();
      const database = new Database(join(directory, DATABASE_FILE));
      database.exec(`DROP TRIGGER series_insert_latest_values; DROP TRIGGER series_update_latest_values;
        DROP TRIGGER series_delete_latest_values; DROP TABLE latest_values;
        DELETE FROM schema_migrations WHERE version = 2;`);
      database.close();
    }
    const reopened = new Database(join(directory, DATABASE_FILE));
    expect(migrate(reopened)).toEqual([2]);
    expect(migrate(reopened)).toEqual([]);
    reopened.close();
    const store = open(directory);
    expect((await bothViews(store, run, ['loss'])).table).toEqual([[3, 5, Number.NaN]]);
    await store.ingest([run.ingest([run.metric('loss', 1, 4), run.metric('acc', 0.5, 0)])]);
    const { table, fromSeries } = await bothViews(store, run, ['loss', 'acc']);
    expect(table).toEqual([
      [4, 1, 1],
      [0, 0.5, 0.5],
    ]);
    expect(table).toEqual(fromSeries);
  });
});
