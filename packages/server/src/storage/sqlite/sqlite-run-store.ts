// biome-ignore-all lint/style/noExcessiveLinesPerFile: the store interface's SQLite implementation, one query per method of RunStore; splitting it would spread one interface over files.
/**
 * The embedded store: one SQLite database (better-sqlite3, WAL mode) in the server's data folder.
 *
 * Why SQLite: measured on the 2-core VM (shared/reference/storage-engines.md), it inserts
 * ~730,000 rows/s with a primary key, is the engine MLflow, Trackio and Aim's metadata use, has
 * JSON functions for params, and is transactional, so "acknowledged" can mean "committed".
 * DuckDB appends faster but has no primary-key upsert at that speed, which the idempotent ingest
 * and the summaries kept at ingest need; PGlite was 5x slower.
 *
 * WAL with synchronous=NORMAL: a commit survives the server process being killed (the WAL is
 * written before the answer), not a power cut; `synchronous: 'full'` adds an fsync per commit.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type Aggregate, chooseBlockSize, mergeAggregate, pointAggregate } from '../downsample.js';
import {
  type AnnotationRecord,
  type ArtifactRecord,
  BadQueryError,
  type CommittedBatch,
  type DownsampledSeries,
  type ImageRecord,
  type IngestBatch,
  type LatestValuesRow,
  type LivenessPolicy,
  type MetricPoint,
  NotFoundError,
  type Page,
  type PlotRecord,
  type RunLatestValues,
  type RunListItem,
  type RunListQuery,
  type RunRecord,
  type RunState,
  type RunStore,
  type SeriesBucket,
  type SeriesQuery,
  type SeriesSummary,
  type StateChange,
} from '../run-store.js';
import { PointChunkReader } from './point-chunks.js';
import { fromStored, SqliteIngest } from './sqlite-ingest.js';
import { migrate } from './sqlite-migrations.js';
import { buildRunListQuery, encodeListCursor, LIGHT_RUN_COLUMNS } from './sqlite-run-list.js';

/** The database file inside the data folder. */
export const DATABASE_FILE = 'livestep.sqlite';
/**
 * Pages of cache: 64 MB (negative = KiB). Enough for the rollups and indexes of a few
 * 10-million-point series; the OS cache holds the rest.
 */
const CACHE_SIZE_KIB = -64 * 1024;
/**
 * Bytes a database page holds, for a data folder created by this version (SQLite keeps the size
 * a file was created with; an older folder keeps its 4 KiB pages). Points arrive in step order
 * per series, so most inserts land on the last page of a B-tree: with 16 KiB pages a commit
 * splits and writes a quarter as many pages. Measured here: 1,000,000 points as columns stored
 * ~15-50% faster than at 4 KiB (load average 4-5, three rounds each), the 1,000-bucket view of
 * them ~10% slower (it reads a few thousand rollup rows either way).
 */
const PAGE_SIZE_BYTES = 16_384;
/** A reader waits this long for a writer's lock instead of failing at once. */
const BUSY_TIMEOUT_MS = 5_000;
/** Default liveness: silent 2 minutes = stale (the HTTP sink retries within 30 s); 1 hour = interrupted. */
export const DEFAULT_LIVENESS: LivenessPolicy = {
  staleAfterMs: 120_000,
  interruptedAfterMs: 3_600_000,
};

export interface SqliteRunStoreOptions {
  /** The data folder (created if missing), or ':memory:' for tests. */
  directory: string;
  synchronous?: 'normal' | 'full';
  liveness?: Partial<LivenessPolicy>;
  /** For tests: the clock. */
  now?: () => number;
}

type Row = Record<string, unknown>;

function parseJson<T>(text: unknown): T | undefined {
  return typeof text === 'string' ? (JSON.parse(text) as T) : undefined;
}

function seriesFromRow(row: Row): SeriesSummary {
  const min = row.min_value as number | null;
  const max = row.max_value as number | null;
  const summary: SeriesSummary = {
    name: row.name as string,
    metric: row.metric as string,
    count: row.count as number,
    nanCount: row.nan_count as number,
    firstStep: row.min_step as number,
    lastStep: row.latest_step as number,
    latest: {
      step: row.latest_step as number,
      value: fromStored(row.latest_value as number | null),
      ts: row.latest_ts as number,
    },
    lastLogged: {
      step: row.last_step as number,
      value: fromStored(row.last_value as number | null),
      ts: row.last_ts as number,
    },
  };
  const labels = parseJson<Record<string, string>>(row.labels);
  if (labels !== undefined) summary.labels = labels;
  if (min !== null) summary.min = min;
  if (max !== null) summary.max = max;
  return summary;
}

function aggregateFromRow(row: Row): Aggregate {
  return {
    count: row.count as number,
    nanCount: row.nan_count as number,
    min: fromStored(row.min_value as number | null),
    max: fromStored(row.max_value as number | null),
    firstStep: row.first_step as number,
    firstTs: row.first_ts as number,
    lastTs: row.last_ts as number,
    lastStep: row.last_step as number,
    lastSeq: row.last_seq as number,
    lastValue: fromStored(row.last_value as number | null),
  };
}

export class SqliteRunStore implements RunStore {
  readonly database: Database.Database;
  private readonly writer: SqliteIngest;
  private readonly chunks: PointChunkReader;
  private readonly liveness: LivenessPolicy;
  private readonly now: () => number;
  private closed = false;

  constructor(options: SqliteRunStoreOptions) {
    let file = ':memory:';
    if (options.directory !== ':memory:') {
      mkdirSync(options.directory, { recursive: true });
      file = join(options.directory, DATABASE_FILE);
    }
    this.database = new Database(file);
    // Before anything is written (WAL mode included); a no-op on an existing database.
    this.database.pragma(`page_size = ${PAGE_SIZE_BYTES}`);
    this.database.pragma('journal_mode = WAL');
    this.database.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.database.pragma(`cache_size = ${CACHE_SIZE_KIB}`);
    this.database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.database.pragma('foreign_keys = ON');
    migrate(this.database);
    this.writer = new SqliteIngest(this.database);
    this.chunks = new PointChunkReader(this.database);
    this.liveness = { ...DEFAULT_LIVENESS, ...options.liveness };
    this.now = options.now ?? Date.now;
  }

  async ingest(batches: IngestBatch[]): Promise<CommittedBatch[]> {
    return this.ingestSync(batches);
  }

  /** The same, synchronously (benchmarks and the ingest queue use it). */
  ingestSync(batches: IngestBatch[]): CommittedBatch[] {
    const now = this.now();
    try {
      return this.database.transaction(() => this.writer.ingest(batches, now))();
    } catch (error) {
      // Rolled back: the cached summaries may be ahead of the database.
      this.writer.reset();
      throw error;
    }
  }

  private stateOf(row: Row): RunState {
    const status = row.status as RunState;
    if (
      status === 'running' &&
      (row.last_event_at as number) < this.now() - this.liveness.staleAfterMs
    ) {
      return 'stale';
    }
    return status;
  }

  private runFromRow(row: Row): RunRecord {
    const record: RunRecord = {
      id: row.id as string,
      experiment: row.experiment as string,
      name: row.name as string,
      source: row.source as RunRecord['source'],
      state: this.stateOf(row),
      createdAt: row.created_at as number,
      lastEventAt: row.last_event_at as number,
      tags: parseJson<string[]>(row.tags) ?? [],
      params: parseJson<Record<string, unknown>>(row.params) ?? {},
    };
    if (row.started_at !== null) record.startedAt = row.started_at as number;
    if (row.ended_at !== null) record.endedAt = row.ended_at as number;
    if (row.message !== null) record.message = row.message as string;
    const git = parseJson<Record<string, unknown>>(row.git);
    if (git !== undefined) record.git = git;
    const machine = parseJson<RunRecord['machine']>(row.machine);
    if (machine !== undefined) record.machine = machine;
    const summary = parseJson<Record<string, unknown>>(row.summary);
    if (summary !== undefined) record.summary = summary;
    const error = parseJson<RunRecord['error']>(row.error);
    if (error !== undefined) record.error = error;
    if (row.interrupted_by_server === 1) record.interruptedByServer = true;
    return record;
  }

  private runKey(id: string): number {
    const row = this.database.prepare('SELECT run_key FROM runs WHERE id = ?').get(id) as
      | { run_key: number }
      | undefined;
    if (row === undefined) throw new NotFoundError(`no run with id ${id}`);
    return row.run_key;
  }

  private seriesRow(runId: string, name: string): Row {
    const row = this.database
      .prepare('SELECT * FROM series WHERE run_key = ? AND name = ?')
      .get(this.runKey(runId), name) as Row | undefined;
    if (row === undefined) throw new NotFoundError(`run ${runId} has no metric "${name}"`);
    return row;
  }

  async listRuns(query: RunListQuery): Promise<Page<RunListItem>> {
    const built = buildRunListQuery(query, this.now() - this.liveness.staleAfterMs);
    let rows: Row[];
    try {
      rows = this.database.prepare(built.sql).all(built.parameters) as Row[];
    } catch (error) {
      if (error instanceof BadQueryError) throw error;
      throw new BadQueryError('filter', `cannot run this query: ${(error as Error).message}`);
    }
    const hasMore = rows.length > query.limit;
    if (hasMore) rows.length = query.limit;
    const items: RunListItem[] = rows.map((row) => this.runFromRow(row));
    if (query.metrics !== undefined && query.metrics.length > 0 && rows.length > 0) {
      const byKey = new Map<number, RunListItem>();
      rows.forEach((row, index) => {
        byKey.set(row.run_key as number, items[index]!);
      });
      const seriesRows = this.database
        .prepare(
          `SELECT * FROM series WHERE run_key IN (SELECT value FROM json_each(?))
             AND name IN (SELECT value FROM json_each(?))`,
        )
        .all(JSON.stringify([...byKey.keys()]), JSON.stringify(query.metrics)) as Row[];
      for (const item of items) item.metrics = {};
      for (const row of seriesRows) {
        const item = byKey.get(row.run_key as number)!;
        item.metrics![row.name as string] = seriesFromRow(row);
      }
    }
    const page: Page<RunListItem> = { items };
    const last = rows.at(-1);
    if (hasMore && last !== undefined) {
      page.nextCursor = encodeListCursor(last.sort_value, last.run_key as number);
    }
    return page;
  }

  async listLatestValues(query: RunListQuery): Promise<Page<RunLatestValues>> {
    const items: RunLatestValues[] = [];
    const metrics = query.metrics ?? [];
    const { nextCursor } = await this.forEachLatestValues(query, (row) => {
      const item: RunLatestValues = {
        id: row.id,
        experiment: row.experiment,
        name: row.name,
        state: row.state,
        latest: metrics.map((_, index) =>
          row.latest[index * 3]! < 0
            ? null
            : [row.latest[index * 3]!, row.latest[index * 3 + 1]!, row.latest[index * 3 + 2]!],
        ),
      };
      if (row.startedAt !== undefined) item.startedAt = row.startedAt;
      items.push(item);
    });
    return nextCursor === undefined ? { items } : { items, nextCursor };
  }

  async forEachLatestValues(
    query: RunListQuery,
    visit: (row: LatestValuesRow) => void,
  ): Promise<{ nextCursor?: string }> {
    const metrics = query.metrics ?? [];
    // One row per run, the metrics' latest values joined in as columns: a 10,000-run table is
    // one query, a probe of latest_values' primary key (run_key, name) per run and metric. Rows
    // are read one at a time and handed over in one refilled object: nothing per run outlives
    // its visit, so the collector has little to do.
    const staleBefore = this.now() - this.liveness.staleAfterMs;
    const built = buildRunListQuery(query, staleBefore, LIGHT_RUN_COLUMNS, metrics);
    let statement: Database.Statement;
    try {
      statement = this.database.prepare(built.sql).raw();
    } catch (error) {
      if (error instanceof BadQueryError) throw error;
      throw new BadQueryError('filter', `cannot run this query: ${(error as Error).message}`);
    }
    const row: LatestValuesRow = {
      id: '',
      experiment: '',
      name: '',
      state: 'running',
      startedAt: undefined,
      latest: new Float64Array(metrics.length * 3),
    };
    let visited = 0;
    let last: unknown[] | undefined;
    let hasMore = false;
    // Columns: run_key, id, experiment, name, status, started_at, last_event_at, sort_value,
    // then (latest_step, latest_value, last_value) per metric.
    for (const columns of statement.iterate(built.parameters) as Iterable<unknown[]>) {
      if (visited === query.limit) {
        hasMore = true;
        break;
      }
      visited++;
      last = columns;
      const status = columns[4] as RunState;
      row.id = columns[1] as string;
      row.experiment = columns[2] as string;
      row.name = columns[3] as string;
      row.state = status === 'running' && (columns[6] as number) < staleBefore ? 'stale' : status;
      row.startedAt = columns[5] === null ? undefined : (columns[5] as number);
      for (let index = 0; index < metrics.length; index++) {
        const step = columns[8 + index * 3] as number | null;
        row.latest[index * 3] = step ?? -1;
        row.latest[index * 3 + 1] = fromStored(columns[9 + index * 3] as number | null);
        row.latest[index * 3 + 2] = fromStored(columns[10 + index * 3] as number | null);
      }
      visit(row);
    }
    return hasMore && last !== undefined
      ? { nextCursor: encodeListCursor(last[7], last[0] as number) }
      : {};
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = this.database.prepare('SELECT * FROM runs WHERE id = ?').get(id) as Row | undefined;
    return row === undefined ? undefined : this.runFromRow(row);
  }

  async listSeries(runId: string): Promise<SeriesSummary[]> {
    const rows = this.database
      .prepare('SELECT * FROM series WHERE run_key = ? ORDER BY name')
      .all(this.runKey(runId)) as Row[];
    return rows.map(seriesFromRow);
  }

  async history(
    runId: string,
    name: string,
    options: { cursor?: string; limit: number },
  ): Promise<Page<MetricPoint>> {
    const series = this.seriesRow(runId, name);
    let afterStep = -1;
    let afterSeq = -1;
    if (options.cursor !== undefined) {
      const match = /^(\d{1,16})\.(\d{1,16})$/.exec(
        Buffer.from(options.cursor, 'base64url').toString('latin1'),
      );
      if (match === null) {
        throw new BadQueryError(
          'cursor',
          'cursor is not one this server gave out; pass the nextCursor of the previous page, or none for the first page',
        );
      }
      afterStep = Number(match[1]);
      afterSeq = Number(match[2]);
    }
    // Keyset paging on (step, seq): a page starts right after the last point of the previous
    // one, so nothing is skipped or repeated, even while points are being added.
    const rows = this.chunks.page(
      series.series_key as number,
      series.chunk_span as number,
      afterStep,
      afterSeq,
      options.limit + 1,
    );
    const hasMore = rows.length > options.limit;
    if (hasMore) rows.length = options.limit;
    const page: Page<MetricPoint> = {
      items: rows.map(([step, , ts, value]) => ({ step, value, ts })),
    };
    const last = rows.at(-1);
    if (hasMore && last !== undefined) {
      page.nextCursor = Buffer.from(`${last[0]}.${last[1]}`, 'latin1').toString('base64url');
    }
    return page;
  }

  async downsample(runId: string, name: string, query: SeriesQuery): Promise<DownsampledSeries> {
    const series = this.seriesRow(runId, name);
    const seriesKey = series.series_key as number;
    const points = Math.max(1, Math.floor(query.points));
    const buckets = new Map<number, Aggregate>();
    const add = (index: number, aggregate: Aggregate) => {
      const existing = buckets.get(index);
      if (existing === undefined) buckets.set(index, { ...aggregate });
      else mergeAggregate(existing, aggregate);
    };
    // How far back a read of a step range seeks (point-chunks.ts).
    const chunkSpan = series.chunk_span as number;
    let width: number;
    let blockSize: number;
    let offset = 0;
    if (query.x === 'step') {
      const from = Math.max(query.from ?? (series.min_step as number), 0);
      const to = Math.min(query.to ?? (series.latest_step as number), Number.MAX_SAFE_INTEGER);
      if (to < from) throw new BadQueryError('to', `to (${to}) is before from (${from})`);
      width = Math.max(1, Math.ceil((to - from + 1) / points));
      blockSize = chooseBlockSize(width);
      const bucketOf = (step: number) => Math.floor((step - from) / width);
      const addRaw = (low: number, high: number) => {
        if (high < low) return;
        for (const [step, seq, ts, value] of this.chunks.range(seriesKey, chunkSpan, low, high)) {
          add(bucketOf(step), pointAggregate(step, seq, ts, value));
        }
      };
      const firstBlock = blockSize === 0 ? 1 : Math.ceil(from / blockSize);
      const lastBlock = blockSize === 0 ? 0 : Math.floor((to + 1) / blockSize) - 1;
      if (blockSize === 0 || firstBlock > lastBlock) {
        blockSize = 0;
        addRaw(from, to);
      } else {
        addRaw(from, firstBlock * blockSize - 1);
        const blocks = this.database
          .prepare(
            'SELECT * FROM rollups WHERE series_key = ? AND block_size = ? AND block BETWEEN ? AND ? ORDER BY block',
          )
          .all(seriesKey, blockSize, firstBlock, lastBlock) as Row[];
        for (const row of blocks) {
          add(bucketOf((row.block as number) * blockSize), aggregateFromRow(row));
        }
        addRaw((lastBlock + 1) * blockSize, to);
      }
    } else {
      if (query.x === 'relative') {
        const run = this.database
          .prepare('SELECT started_at FROM runs WHERE run_key = ?')
          .get(series.run_key) as { started_at: number | null };
        offset = run.started_at ?? (series.first_ts as number);
      }
      const lastTs = (
        this.database
          .prepare('SELECT max(last_ts) AS t FROM rollups WHERE series_key = ? AND block_size = ?')
          .get(seriesKey, 65_536) as { t: number | null }
      ).t;
      const t0 = query.from === undefined ? (series.first_ts as number) : query.from + offset;
      const t1 =
        query.to === undefined ? (lastTs ?? (series.last_ts as number)) : query.to + offset;
      if (t1 < t0) throw new BadQueryError('to', `to is before from`);
      width = Math.max((t1 - t0) / points, Number.EPSILON);
      // Points in the range, estimated from the series' time span: what a bucket would hold.
      const timeSpan = Math.max(
        1,
        (lastTs ?? (series.last_ts as number)) - (series.first_ts as number),
      );
      const inRange = (series.count as number) * Math.min(1, (t1 - t0) / timeSpan);
      blockSize = chooseBlockSize(inRange / points);
      const bucketOf = (ts: number) => Math.min(points - 1, Math.floor((ts - t0) / width));
      const addRawInTime = (low: number, high: number) => {
        for (const [step, seq, ts, value] of this.chunks.range(seriesKey, chunkSpan, low, high)) {
          if (ts >= t0 && ts <= t1) add(bucketOf(ts), pointAggregate(step, seq, ts, value));
        }
      };
      if (blockSize === 0) {
        addRawInTime(0, Number.MAX_SAFE_INTEGER);
      } else {
        // A block wholly inside the time range goes into the bucket of its last point's time; a
        // block across an edge is read point by point.
        const blocks = this.database
          .prepare(
            'SELECT * FROM rollups WHERE series_key = ? AND block_size = ? AND last_ts >= ? AND first_ts <= ? ORDER BY block',
          )
          .all(seriesKey, blockSize, t0, t1) as Row[];
        for (const row of blocks) {
          if ((row.first_ts as number) >= t0 && (row.last_ts as number) <= t1) {
            add(bucketOf(row.last_ts as number), aggregateFromRow(row));
          } else {
            const start = (row.block as number) * blockSize;
            addRawInTime(start, start + blockSize - 1);
          }
        }
      }
    }
    const ordered = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
    const result: SeriesBucket[] = ordered.map(([, aggregate]) => {
      const bucket: SeriesBucket = {
        x: query.x === 'step' ? aggregate.lastStep : aggregate.lastTs - offset,
        firstStep: aggregate.firstStep,
        lastStep: aggregate.lastStep,
        firstTs: aggregate.firstTs,
        lastTs: aggregate.lastTs,
        count: aggregate.count,
        nanCount: aggregate.nanCount,
        last: aggregate.lastValue,
      };
      if (!Number.isNaN(aggregate.min)) bucket.min = aggregate.min;
      if (!Number.isNaN(aggregate.max)) bucket.max = aggregate.max;
      return bucket;
    });
    return { name, x: query.x, bucketWidth: width, blockSize, buckets: result };
  }

  async listPlots(runId: string, name?: string): Promise<PlotRecord[]> {
    const key = this.runKey(runId);
    const rows = (
      name === undefined
        ? this.database.prepare('SELECT * FROM plots WHERE run_key = ? ORDER BY name, seq').all(key)
        : this.database
            .prepare('SELECT * FROM plots WHERE run_key = ? AND name = ? ORDER BY seq')
            .all(key, name)
    ) as Row[];
    return rows.map((row) => {
      const plot: PlotRecord = {
        name: row.name as string,
        plotKind: row.plot_kind as string,
        ts: row.ts as number,
        rows: JSON.parse(row.rows as string) as PlotRecord['rows'],
        ...(parseJson<Record<string, string>>(row.properties) ?? {}),
      };
      if (row.step !== null) plot.step = row.step as number;
      return plot;
    });
  }

  private imageFromRow(row: Row): ImageRecord {
    const image: ImageRecord = {
      name: row.name as string,
      step: row.step as number,
      ts: row.ts as number,
      mime: row.mime as string,
      size: row.size as number,
    };
    if (row.uri !== null) image.uri = row.uri as string;
    return image;
  }

  async listImages(runId: string, name?: string): Promise<ImageRecord[]> {
    const key = this.runKey(runId);
    const columns = 'name, step, ts, mime, size, uri';
    const rows = (
      name === undefined
        ? this.database
            .prepare(`SELECT ${columns} FROM images WHERE run_key = ? ORDER BY name, step, seq`)
            .all(key)
        : this.database
            .prepare(
              `SELECT ${columns} FROM images WHERE run_key = ? AND name = ? ORDER BY step, seq`,
            )
            .all(key, name)
    ) as Row[];
    return rows.map((row) => this.imageFromRow(row));
  }

  async readImage(
    runId: string,
    name: string,
    step?: number,
  ): Promise<{ record: ImageRecord; bytes?: Buffer } | undefined> {
    const key = this.runKey(runId);
    const row = (
      step === undefined
        ? this.database
            .prepare(
              'SELECT * FROM images WHERE run_key = ? AND name = ? ORDER BY step DESC, seq DESC LIMIT 1',
            )
            .get(key, name)
        : this.database
            .prepare(
              'SELECT * FROM images WHERE run_key = ? AND name = ? AND step = ? ORDER BY seq DESC LIMIT 1',
            )
            .get(key, name, step)
    ) as Row | undefined;
    if (row === undefined) return undefined;
    const result: { record: ImageRecord; bytes?: Buffer } = { record: this.imageFromRow(row) };
    if (row.bytes !== null) result.bytes = row.bytes as Buffer;
    return result;
  }

  async listAnnotations(runId: string): Promise<AnnotationRecord[]> {
    const rows = this.database
      .prepare('SELECT * FROM annotations WHERE run_key = ? ORDER BY seq')
      .all(this.runKey(runId)) as Row[];
    return rows.map((row) => {
      const annotation: AnnotationRecord = {
        ts: row.ts as number,
        level: row.level as string,
        text: row.text as string,
      };
      if (row.step !== null) annotation.step = row.step as number;
      const labels = parseJson<Record<string, string>>(row.labels);
      if (labels !== undefined) annotation.labels = labels;
      return annotation;
    });
  }

  async listArtifacts(runId: string): Promise<ArtifactRecord[]> {
    const rows = this.database
      .prepare(
        'SELECT ts, name, type, path, size, sha256 FROM artifacts WHERE run_key = ? ORDER BY seq',
      )
      .all(this.runKey(runId)) as ArtifactRecord[];
    return rows;
  }

  async sweepSilentRuns(now: number): Promise<StateChange[]> {
    const changes: StateChange[] = [];
    const staleBefore = now - this.liveness.staleAfterMs;
    const interruptBefore = now - this.liveness.interruptedAfterMs;
    const silent = this.database
      .prepare(
        "SELECT id, experiment, name, last_event_at FROM runs WHERE status = 'running' AND last_event_at < ?",
      )
      .all(staleBefore) as Array<{
      id: string;
      experiment: string;
      name: string;
      last_event_at: number;
    }>;
    const interrupt = this.database.prepare(
      "UPDATE runs SET status = 'interrupted', interrupted_by_server = 1 WHERE id = ? AND status = 'running'",
    );
    for (const run of silent) {
      const identity = { id: run.id, experiment: run.experiment, name: run.name };
      if (run.last_event_at < interruptBefore) {
        interrupt.run(run.id);
        this.writer.forgetRun(run.id);
        changes.push({ run: identity, state: 'interrupted' });
      } else {
        changes.push({ run: identity, state: 'stale' });
      }
    }
    return changes;
  }

  /**
   * Whether the run has the event with this id stored (for tests and tools that check an
   * acknowledgement against the database, such as a restart after SIGKILL).
   */
  async hasEvent(runId: string, eventId: string): Promise<boolean> {
    const row = this.database.prepare('SELECT run_key FROM runs WHERE id = ?').get(runId) as
      | { run_key: number }
      | undefined;
    return row !== undefined && this.writer.hasEvent(row.run_key, eventId);
  }

  async counts(): Promise<Record<string, number>> {
    const count = (table: string) =>
      (this.database.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return {
      runs: count('runs'),
      events: this.writer.countEvents(),
      points: (
        this.database.prepare('SELECT coalesce(sum(count), 0) AS n FROM point_chunks').get() as {
          n: number;
        }
      ).n,
      series: count('series'),
      plots: count('plots'),
      images: count('images'),
      annotations: count('annotations'),
      artifacts: count('artifacts'),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.database.close();
  }
}

export function openSqliteRunStore(options: SqliteRunStoreOptions): SqliteRunStore {
  return new SqliteRunStore(options);
}
