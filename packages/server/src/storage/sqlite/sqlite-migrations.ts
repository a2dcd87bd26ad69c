/**
 * The embedded store's schema, as numbered migrations applied in order, each in its own
 * transaction, and recorded in `schema_migrations`. A database made by a newer server (a version
 * this one does not know) is refused rather than written to. A new migration is appended, never
 * edited: databases in the field have the old ones applied.
 *
 * Shape, kept portable to PostgreSQL (a later store follows it table for table):
 *   runs        one row per run; params, tags, git, machine as JSON text
 *   event_ids   stored event ids (16 bytes) not made from a run-wide prefix, and every id of a
 *               run stored before migration 3: with event_seq_ranges, what makes ingest idempotent
 *   event_seq_ranges  per run and id prefix, the ranges of seqs stored (ids made as core's Run
 *               makes them: the prefix, then the seq; migration 3)
 *   series      one row per metric series with its summary, kept at ingest (count, min, max,
 *               first/last step, the latest value by step and the value logged last)
 *   points      every point, keyed (series, step, seq) (until migration 4, which moves them
 *               into point_chunks and drops the table)
 *   point_chunks  a series' points in chunks of up to 2,048, sorted by (step, seq), packed as
 *               float64s (point-chunks.ts; migration 4): one row a chunk, where a row a point
 *               was the largest cost of ingest; `series.chunk_span` bounds how far back a read
 *               of a step range seeks
 *   rollups     per series, per block size, per block of steps: count, NaN count, min, max and
 *               the last point, so a chart of any length reads a few thousand rows
 *   latest_values  per series: latest step, latest value, last-logged value (a narrow copy of
 *               series' columns, kept by triggers, that a runs table reads; migration 2)
 *   plots, images, annotations, artifacts
 * NaN is stored as NULL in REAL columns (SQLite has no NaN); ±inf are stored as they are.
 */
import type Database from 'better-sqlite3';
import { CHUNK_POINTS, PointChunkWriter } from './point-chunks.js';

export interface Migration {
  version: number;
  description: string;
  sql: string;
  /** Work SQL alone cannot do, run after `sql` in the same transaction. */
  run?: (database: Database.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description:
      'runs, event ids, series summaries, points, rollups, plots, images, annotations, artifacts',
    sql: `
      CREATE TABLE runs (
        run_key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        experiment TEXT NOT NULL,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        last_event_at REAL NOT NULL,
        message TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        git TEXT,
        machine TEXT,
        params TEXT NOT NULL DEFAULT '{}',
        summary TEXT,
        error TEXT,
        max_seq INTEGER NOT NULL DEFAULT -1,
        interrupted_by_server INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX runs_by_experiment ON runs (experiment, run_key);
      CREATE INDEX runs_by_status ON runs (status, last_event_at);
      CREATE TABLE event_ids (id BLOB PRIMARY KEY) WITHOUT ROWID;
      CREATE TABLE series (
        series_key INTEGER PRIMARY KEY,
        run_key INTEGER NOT NULL REFERENCES runs (run_key),
        name TEXT NOT NULL,
        metric TEXT NOT NULL,
        labels TEXT,
        count INTEGER NOT NULL,
        nan_count INTEGER NOT NULL,
        min_value REAL,
        max_value REAL,
        min_step INTEGER NOT NULL,
        first_ts REAL NOT NULL,
        latest_step INTEGER NOT NULL,
        latest_seq INTEGER NOT NULL,
        latest_value REAL,
        latest_ts REAL NOT NULL,
        last_step INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        last_value REAL,
        last_ts REAL NOT NULL,
        UNIQUE (run_key, name)
      );
      CREATE INDEX series_by_name ON series (name, run_key);
      CREATE TABLE points (
        series_key INTEGER NOT NULL,
        step INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        ts REAL NOT NULL,
        value REAL,
        PRIMARY KEY (series_key, step, seq)
      ) WITHOUT ROWID;
      CREATE TABLE rollups (
        series_key INTEGER NOT NULL,
        block_size INTEGER NOT NULL,
        block INTEGER NOT NULL,
        count INTEGER NOT NULL,
        nan_count INTEGER NOT NULL,
        min_value REAL,
        max_value REAL,
        first_step INTEGER NOT NULL,
        first_ts REAL NOT NULL,
        last_ts REAL NOT NULL,
        last_step INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        last_value REAL,
        PRIMARY KEY (series_key, block_size, block)
      ) WITHOUT ROWID;
      CREATE TABLE plots (
        plot_key INTEGER PRIMARY KEY,
        run_key INTEGER NOT NULL REFERENCES runs (run_key),
        name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts REAL NOT NULL,
        step INTEGER,
        plot_kind TEXT NOT NULL,
        rows TEXT NOT NULL,
        properties TEXT
      );
      CREATE INDEX plots_by_run ON plots (run_key, name, seq);
      CREATE TABLE images (
        image_key INTEGER PRIMARY KEY,
        run_key INTEGER NOT NULL REFERENCES runs (run_key),
        name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts REAL NOT NULL,
        step INTEGER NOT NULL,
        mime TEXT NOT NULL,
        size INTEGER NOT NULL,
        bytes BLOB,
        uri TEXT
      );
      CREATE INDEX images_by_run ON images (run_key, name, step, seq);
      CREATE TABLE annotations (
        annotation_key INTEGER PRIMARY KEY,
        run_key INTEGER NOT NULL REFERENCES runs (run_key),
        seq INTEGER NOT NULL,
        ts REAL NOT NULL,
        step INTEGER,
        level TEXT NOT NULL,
        text TEXT NOT NULL,
        labels TEXT
      );
      CREATE INDEX annotations_by_run ON annotations (run_key, seq);
      CREATE TABLE artifacts (
        artifact_key INTEGER PRIMARY KEY,
        run_key INTEGER NOT NULL REFERENCES runs (run_key),
        seq INTEGER NOT NULL,
        ts REAL NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL
      );
      CREATE INDEX artifacts_by_run ON artifacts (run_key, seq);
    `,
  },
  {
    version: 2,
    description:
      'latest_values: each series latest step, latest value and last-logged value, kept by triggers on series',
    // A runs table reads the latest values of a few metrics for thousands of runs: one probe of
    // this narrow table (WITHOUT ROWID: the row is in the key's b-tree) per run and metric, where
    // the same probe into series reads a wide row through a second b-tree (~1.5x slower at
    // 10,000 runs). Triggers keep it equal to series on every write, whoever writes; a data
    // folder from version 1 is filled from its series rows here.
    sql: `
      CREATE TABLE latest_values (
        run_key INTEGER NOT NULL,
        name TEXT NOT NULL,
        latest_step INTEGER NOT NULL,
        latest_value REAL,
        last_value REAL,
        PRIMARY KEY (run_key, name)
      ) WITHOUT ROWID;
      INSERT INTO latest_values (run_key, name, latest_step, latest_value, last_value)
        SELECT run_key, name, latest_step, latest_value, last_value FROM series;
      CREATE TRIGGER series_insert_latest_values AFTER INSERT ON series BEGIN
        INSERT INTO latest_values (run_key, name, latest_step, latest_value, last_value)
          VALUES (NEW.run_key, NEW.name, NEW.latest_step, NEW.latest_value, NEW.last_value);
      END;
      CREATE TRIGGER series_update_latest_values AFTER UPDATE ON series BEGIN
        UPDATE latest_values
          SET run_key = NEW.run_key, name = NEW.name, latest_step = NEW.latest_step,
              latest_value = NEW.latest_value, last_value = NEW.last_value
          WHERE run_key = OLD.run_key AND name = OLD.name;
      END;
      CREATE TRIGGER series_delete_latest_values AFTER DELETE ON series BEGIN
        DELETE FROM latest_values WHERE run_key = OLD.run_key AND name = OLD.name;
      END;
    `,
  },
  {
    version: 3,
    description:
      'event_seq_ranges: prefixed event ids recorded as ranges of seqs per run; older runs keep event_ids',
    // An id core's Run makes is its run's 10-byte prefix and then its seq, so the ids stored of a
    // run are ranges of seqs, one row while the run logs in order, where event_ids held one
    // 16-byte key per event (a B-tree insert beside every point). Runs already stored have their
    // prefixed ids in event_ids, without a run to file them under: legacy_event_ids = 1 keeps
    // them on event_ids for good, so a replay of their old batches is still found there.
    sql: `
      CREATE TABLE event_seq_ranges (
        run_key INTEGER NOT NULL,
        id_prefix BLOB NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        PRIMARY KEY (run_key, id_prefix, first_seq)
      ) WITHOUT ROWID;
      ALTER TABLE runs ADD COLUMN legacy_event_ids INTEGER NOT NULL DEFAULT 0;
      UPDATE runs SET legacy_event_ids = 1;
    `,
  },
  {
    version: 4,
    description:
      'point_chunks: points stored in sorted chunks of up to 2,048 a row; points moved there',
    // A B-tree insert a point (the points table) was most of what ingest cost: about 0.8 µs of
    // SQLite a point, where the rest of the server took about 1. The points a data folder holds
    // are moved into chunks here, series by series, in their (step, seq) order.
    sql: `
      CREATE TABLE point_chunks (
        chunk_key INTEGER PRIMARY KEY,
        series_key INTEGER NOT NULL,
        first_step INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        last_step INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        count INTEGER NOT NULL,
        data BLOB NOT NULL
      );
      CREATE INDEX point_chunks_by_step ON point_chunks (series_key, first_step, first_seq);
      ALTER TABLE series ADD COLUMN chunk_span INTEGER NOT NULL DEFAULT 0;
    `,
    run: movePointsIntoChunks,
  },
];

/** Migration 4's data step: every row of `points` into point_chunks, then the table dropped. */
function movePointsIntoChunks(database: Database.Database): void {
  const writer = new PointChunkWriter(database);
  const setSpan = database.prepare('UPDATE series SET chunk_span = ? WHERE series_key = ?');
  const seriesKeys = database
    .prepare('SELECT DISTINCT series_key FROM points')
    .pluck()
    .all() as number[];
  const read = database
    .prepare(
      'SELECT step, seq, ts, value FROM points WHERE series_key = ? AND (step, seq) > (?, ?) ORDER BY step, seq LIMIT ?',
    )
    .raw();
  for (const seriesKey of seriesKeys) {
    let span = 0;
    let afterStep = -1;
    let afterSeq = -1;
    for (;;) {
      const rows = read.all(seriesKey, afterStep, afterSeq, CHUNK_POINTS) as Array<
        [number, number, number, number | null]
      >;
      if (rows.length === 0) break;
      span = Math.max(
        span,
        writer.write(seriesKey, {
          flat: rows.flatMap(([step, , ts, value]) => [step, value ?? Number.NaN, ts]),
          seqs: rows.map((row) => row[1]),
        }),
      );
      const last = rows.at(-1)!;
      afterStep = last[0];
      afterSeq = last[1];
    }
    setSpan.run(span, seriesKey);
  }
  database.exec('DROP TABLE points');
}

/** Brings the database to the newest schema; returns the versions it applied. */
export function migrate(database: Database.Database, migrations = MIGRATIONS): number[] {
  database.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)',
  );
  const applied = new Set(
    (
      database.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>
    ).map((row) => row.version),
  );
  const known = new Set(migrations.map((migration) => migration.version));
  const unknown = [...applied].filter((version) => !known.has(version));
  if (unknown.length > 0) {
    throw new Error(
      `livestep server: the database has schema version ${Math.max(...unknown)}, newer than this server knows (${Math.max(...known)}); run a newer @livestep/server, or point --data at another folder`,
    );
  }
  const done: number[] = [];
  const record = database.prepare(
    'INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)',
  );
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(migration.version)) continue;
    database.transaction(() => {
      database.exec(migration.sql);
      migration.run?.(database);
      record.run(migration.version, migration.description, Date.now());
    })();
    done.push(migration.version);
  }
  return done;
}
