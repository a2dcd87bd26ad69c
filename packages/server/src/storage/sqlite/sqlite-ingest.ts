// biome-ignore-all lint/style/noExcessiveLinesPerFile: one commit's work in one place: every event kind's statements and the summaries they keep, so a reader sees what one acknowledged batch writes.
/**
 * Writing batches into the embedded store, inside the caller's transaction: every event id is
 * recorded once (sqlite-event-ids.ts: a retried batch stores nothing twice), metric points go to `point_chunks` (point-chunks.ts), and the
 * summaries are kept up to date here, at ingest: each series' count/min/max/latest/last, and the
 * rollup blocks at every block size (built from blocks of the smallest size, so a point costs
 * one aggregate update, not one per level).
 */

import type {
  Labels,
  MetricColumns,
  MetricEvent,
  MetricValue,
  RunEvent,
  RunIdentity,
} from '@livestep/core/protocol';
import { decodeMetricValue } from '@livestep/core/protocol';
import { metricSeriesName } from '@livestep/core/sink-kit';
import type Database from 'better-sqlite3';
import {
  type Aggregate,
  BLOCK_SIZES,
  copyAggregate,
  mergeAggregate,
  pointAggregate,
} from '../downsample.js';
import type { CommittedBatch, IngestBatch, RunState } from '../run-store.js';
import { type FlatPoints, flatPointsBytes, withLazyPoints } from './lazy-committed-points.js';
import { mergeParamsSafely } from './merge-params-safely.js';
import { MultiRowInsert } from './multi-row-insert.js';
import { type NewPoints, PointChunkWriter } from './point-chunks.js';
import { type EventIdRun, SqliteEventIds } from './sqlite-event-ids.js';

/** Series summaries held in memory between batches; past this the cache starts again (after a flush). */
const SERIES_CACHE_SIZE = 50_000;
/** Runs held in memory between batches; past this the cache starts again. */
const RUN_CACHE_SIZE = 20_000;
/**
 * Rollup rows per upsert statement, for the same reason: a commit writes about one row per 16
 * steps of each series it touches, one per 64, and so on up the levels.
 */
const ROLLUPS_PER_STATEMENT = 64;
const ROLLUP_COLUMNS = 13;
const SMALLEST_BLOCK = BLOCK_SIZES[0];

interface SeriesState {
  key: number;
  count: number;
  nanCount: number;
  min: number;
  max: number;
  minStep: number;
  firstTs: number;
  latestStep: number;
  latestSeq: number;
  latestValue: number;
  latestTs: number;
  lastLoggedStep: number;
  lastSeq: number;
  lastValue: number;
  lastTs: number;
  /** The widest step span of the series' point chunks (point-chunks.ts). */
  chunkSpan: number;
  /** Blocks of SMALLEST_BLOCK steps touched in this transaction. */
  blocks: Map<number, Aggregate>;
  currentBlock: number;
  currentAggregate: Aggregate | undefined;
}

/**
 * A series' new points in one batch: the list the live stream reads (FlatPoints) and their seqs
 * beside it, kept until the transaction writes the rows (the seqs are dropped then).
 */
interface BatchSeries {
  series: SeriesState;
  points: number[];
  seqs: number[];
}

interface RunState_ extends EventIdRun {
  status: string;
  maxSeq: number;
  interruptedByServer: boolean;
}

/** SQLite has no NaN: it is stored as NULL, and read back as NaN. */
export function toStored(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}

export function fromStored(value: number | null): number {
  return value === null ? Number.NaN : value;
}

export class SqliteIngest {
  private readonly series = new Map<string, SeriesState>();
  private readonly runs = new Map<string, RunState_>();
  private readonly touched = new Set<SeriesState>();
  private readonly statements;
  private readonly eventIds: SqliteEventIds;
  private readonly chunks: PointChunkWriter;
  private readonly rollups: MultiRowInsert;
  /**
   * The new points of this transaction, per batch and series: they are written at the end,
   * series by series, in chunks (a series' points of every batch of the transaction together).
   */
  private readonly pendingSeries: BatchSeries[] = [];

  constructor(database: Database.Database) {
    const prepare = (sql: string) => database.prepare(sql);
    this.eventIds = new SqliteEventIds(database);
    this.chunks = new PointChunkWriter(database);
    this.rollups = new MultiRowInsert(
      database,
      `INSERT INTO rollups (series_key, block_size, block, count, nan_count, min_value, max_value,
           first_step, first_ts, last_ts, last_step, last_seq, last_value)
         VALUES`,
      ` ON CONFLICT (series_key, block_size, block) DO UPDATE SET
           count = count + excluded.count,
           nan_count = nan_count + excluded.nan_count,
           min_value = CASE WHEN excluded.min_value IS NULL THEN min_value
             WHEN min_value IS NULL THEN excluded.min_value
             ELSE min(min_value, excluded.min_value) END,
           max_value = CASE WHEN excluded.max_value IS NULL THEN max_value
             WHEN max_value IS NULL THEN excluded.max_value
             ELSE max(max_value, excluded.max_value) END,
           first_step = min(first_step, excluded.first_step),
           first_ts = min(first_ts, excluded.first_ts),
           last_ts = max(last_ts, excluded.last_ts),
           last_value = CASE WHEN (excluded.last_step, excluded.last_seq) > (last_step, last_seq)
             THEN excluded.last_value ELSE last_value END,
           last_seq = CASE WHEN (excluded.last_step, excluded.last_seq) > (last_step, last_seq)
             THEN excluded.last_seq ELSE last_seq END,
           last_step = max(last_step, excluded.last_step)`,
      ROLLUP_COLUMNS,
      ROLLUPS_PER_STATEMENT,
    );
    this.statements = {
      findRun: prepare(
        'SELECT run_key, status, max_seq, interrupted_by_server, legacy_event_ids FROM runs WHERE id = ?',
      ),
      createRun: prepare(
        `INSERT INTO runs (id, experiment, name, source, status, created_at, last_event_at)
         VALUES (?, ?, ?, ?, 'running', ?, ?)`,
      ),
      touchRun: prepare(
        'UPDATE runs SET last_event_at = ?, max_seq = max(max_seq, ?), status = ?, interrupted_by_server = ? WHERE run_key = ?',
      ),
      start: prepare(
        `UPDATE runs SET experiment = ?, name = ?, message = ?, tags = ?, git = ?, machine = ?,
           started_at = coalesce(started_at, ?) WHERE run_key = ?`,
      ),
      startedAt: prepare(
        'UPDATE runs SET started_at = ? WHERE run_key = ? AND (started_at IS NULL OR started_at > ?)',
      ),
      readParams: prepare('SELECT params FROM runs WHERE run_key = ?'),
      writeParams: prepare('UPDATE runs SET params = ? WHERE run_key = ?'),
      writeSummary: prepare('UPDATE runs SET summary = ? WHERE run_key = ?'),
      done: prepare(
        'UPDATE runs SET ended_at = ?, summary = coalesce(?, summary), error = ? WHERE run_key = ?',
      ),
      findSeries: prepare('SELECT * FROM series WHERE run_key = ? AND name = ?'),
      createSeries: prepare(
        `INSERT INTO series (run_key, name, metric, labels, count, nan_count, min_value, max_value,
           min_step, first_ts, latest_step, latest_seq, latest_value, latest_ts,
           last_step, last_seq, last_value, last_ts)
         VALUES (?, ?, ?, ?, 0, 0, NULL, NULL, ?, ?, ?, -1, NULL, ?, ?, -1, NULL, ?)`,
      ),
      updateSeries: prepare(
        `UPDATE series SET count = ?, nan_count = ?, min_value = ?, max_value = ?, min_step = ?,
           first_ts = ?, latest_step = ?, latest_seq = ?, latest_value = ?,
           latest_ts = ?, last_step = ?, last_seq = ?, last_value = ?, last_ts = ?,
           chunk_span = ?
         WHERE series_key = ?`,
      ),
      plot: prepare(
        `INSERT INTO plots (run_key, name, seq, ts, step, plot_kind, rows, properties)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      image: prepare(
        `INSERT INTO images (run_key, name, seq, ts, step, mime, size, bytes, uri)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      annotation: prepare(
        `INSERT INTO annotations (run_key, seq, ts, step, level, text, labels)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      artifact: prepare(
        `INSERT INTO artifacts (run_key, seq, ts, name, type, path, size, sha256)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
  }

  /** Forgets what is cached (after a rolled-back transaction, the cache may be ahead of the database). */
  reset(): void {
    this.series.clear();
    this.runs.clear();
    this.touched.clear();
    // Rows of the failed batch not yet written must not go out with the next commit.
    this.pendingSeries.length = 0;
    this.rollups.clear();
    this.chunks.reset();
  }

  /** Forgets the cached state of one run (the liveness sweep changed it in the database). */
  forgetRun(id: string): void {
    this.runs.delete(id);
  }

  /** Events recorded as stored (counts()). */
  countEvents(): number {
    return this.eventIds.count();
  }

  hasEvent(runKey: number, id: string): boolean {
    return this.eventIds.has(runKey, id);
  }

  /** Call inside a transaction. */
  ingest(batches: IngestBatch[], now: number): CommittedBatch[] {
    const results = batches.map((batch) => this.ingestBatch(batch, now));
    this.flushPoints();
    this.flushSummaries();
    return results;
  }

  private run(identity: RunIdentity, source: string, now: number): RunState_ {
    let run = this.runs.get(identity.id);
    if (run !== undefined) return run;
    const row = this.statements.findRun.get(identity.id) as
      | {
          run_key: number;
          status: string;
          max_seq: number;
          interrupted_by_server: number;
          legacy_event_ids: number;
        }
      | undefined;
    if (row === undefined) {
      const info = this.statements.createRun.run(
        identity.id,
        identity.experiment,
        identity.name,
        source,
        now,
        now,
      );
      run = {
        key: Number(info.lastInsertRowid),
        status: 'new',
        maxSeq: -1,
        interruptedByServer: false,
        legacyIds: false,
      };
    } else {
      run = {
        key: row.run_key,
        status: row.status,
        maxSeq: row.max_seq,
        interruptedByServer: row.interrupted_by_server === 1,
        legacyIds: row.legacy_event_ids === 1,
      };
    }
    if (this.runs.size >= RUN_CACHE_SIZE) this.runs.clear();
    this.runs.set(identity.id, run);
    return run;
  }

  private ingestBatch(batch: IngestBatch, now: number): CommittedBatch {
    const run = this.run(batch.run, batch.source, now);
    const statusBefore = run.status;
    // No prototype: a metric may be named `toString` or `valueOf` (reserved are only __proto__,
    // constructor and prototype), and `points[name]` must not find Object.prototype's.
    const points: FlatPoints = Object.create(null);
    const otherKinds: CommittedBatch['otherKinds'] = {};
    let stored = 0;
    let duplicates = 0;
    let maxSeq = run.maxSeq;
    let earliestTs = Number.POSITIVE_INFINITY;
    const { statements } = this;
    const { events } = batch;
    const fresh = this.eventIds.recordEvents(run, events, batch.assignSequence === true);
    const bySeriesName = new Map<string, BatchSeries>();
    const unlabelled = new Map<string, BatchSeries>();
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!;
      if (fresh[index] === 0) {
        duplicates++;
        continue;
      }
      stored++;
      if (batch.assignSequence) event.seq = maxSeq + 1;
      if (event.seq > maxSeq) maxSeq = event.seq;
      if (event.ts < earliestTs) earliestTs = event.ts;
      if (event.kind === 'metric') {
        // A batch's points use a few names: each is resolved once (series name, summary, list),
        // not once a point; labelled points, rarer, are resolved each time.
        let target = event.labels === undefined ? unlabelled.get(event.name) : undefined;
        if (target === undefined) {
          target = this.batchSeries(
            run.key,
            points,
            bySeriesName,
            event.name,
            event.labels,
            event.step,
            event.ts,
          );
          if (event.labels === undefined) unlabelled.set(event.name, target);
        }
        this.storePoint(target, event.step, event.seq, event.ts, decodeValue(event.value));
        continue;
      }
      otherKinds[event.kind] = (otherKinds[event.kind] ?? 0) + 1;
      this.storeOther(run, event);
    }
    for (const columns of batch.metricColumns ?? []) {
      const result = this.storeColumns(run, columns, points, bySeriesName);
      stored += result.stored;
      duplicates += result.duplicates;
      if (result.maxSeq > maxSeq) maxSeq = result.maxSeq;
      if (result.earliestTs < earliestTs) earliestTs = result.earliestTs;
    }
    if (batch.summary !== undefined) {
      statements.writeSummary.run(JSON.stringify(batch.summary), run.key);
    }
    if (stored > 0 && earliestTs !== Number.POSITIVE_INFINITY) {
      statements.startedAt.run(earliestTs, run.key, earliestTs);
    }
    // A run that sends again is alive: stale or interrupted by the server, it is running again.
    if (
      stored > 0 &&
      (run.status === 'new' || (run.status === 'interrupted' && run.interruptedByServer))
    ) {
      run.status = 'running';
      run.interruptedByServer = false;
    }
    if (run.status === 'new') run.status = 'running';
    run.maxSeq = maxSeq;
    statements.touchRun.run(now, maxSeq, run.status, run.interruptedByServer ? 1 : 0, run.key);
    return withLazyPoints(
      {
        run: batch.run,
        stored,
        duplicates,
        otherKinds,
        state: run.status as RunState,
        stateChanged: run.status !== statusBefore,
        memoryBytes: flatPointsBytes(points),
      },
      points,
    );
  }

  private storeOther(run: RunState_, event: Exclude<RunEvent, MetricEvent>): void {
    const { statements } = this;
    switch (event.kind) {
      case 'start':
        statements.start.run(
          event.experiment,
          event.name,
          event.message ?? null,
          JSON.stringify(event.tags ?? []),
          event.git ? JSON.stringify(event.git) : null,
          event.machine ? JSON.stringify(event.machine) : null,
          event.ts,
          run.key,
        );
        return;
      case 'params': {
        const row = statements.readParams.get(run.key) as { params: string };
        const params = JSON.parse(row.params) as Record<string, unknown>;
        mergeParamsSafely(params, event.params);
        statements.writeParams.run(JSON.stringify(params), run.key);
        return;
      }
      case 'plot': {
        const properties: Record<string, string> = {};
        for (const key of ['x', 'y', 'title', 'xLabel', 'yLabel'] as const) {
          const value = event[key];
          if (value !== undefined) properties[key] = value;
        }
        statements.plot.run(
          run.key,
          event.name,
          event.seq,
          event.ts,
          event.step ?? null,
          event.plotKind,
          JSON.stringify(event.rows),
          Object.keys(properties).length > 0 ? JSON.stringify(properties) : null,
        );
        return;
      }
      case 'image': {
        const bytes = event.bytes === undefined ? null : Buffer.from(event.bytes, 'base64');
        statements.image.run(
          run.key,
          event.name,
          event.seq,
          event.ts,
          event.step,
          event.mime,
          bytes?.length ?? 0,
          bytes,
          event.uri ?? null,
        );
        return;
      }
      case 'annotation':
        statements.annotation.run(
          run.key,
          event.seq,
          event.ts,
          event.step ?? null,
          event.level,
          event.text,
          event.labels ? JSON.stringify(event.labels) : null,
        );
        return;
      case 'artifact':
        statements.artifact.run(
          run.key,
          event.seq,
          event.ts,
          event.name,
          event.type,
          event.path,
          event.size,
          event.sha256,
        );
        return;
      case 'done':
        statements.done.run(
          event.ts,
          event.summary ? JSON.stringify(event.summary) : null,
          event.error ? JSON.stringify(event.error) : null,
          run.key,
        );
        run.status = event.status;
        run.interruptedByServer = false;
        return;
    }
  }

  /**
   * Stores a block of metric columns (validated) straight from its arrays: no event object per
   * point. Each point's id is recorded as if it had come as an object, so duplicates are found
   * whichever form carried them.
   */
  private storeColumns(
    run: RunState_,
    columns: MetricColumns,
    points: FlatPoints,
    bySeriesName: Map<string, BatchSeries>,
  ): { stored: number; duplicates: number; maxSeq: number; earliestTs: number } {
    const { nameIndex, seqDeltas, stepDeltas, tsDeltas, values, names } = columns;
    const count = values.length;
    const seqs = new Float64Array(count);
    let seq = 0;
    for (let index = 0; index < count; index++) {
      seq += seqDeltas[index]!;
      seqs[index] = seq;
    }
    const fresh = this.eventIds.recordColumns(run, columns, seqs);
    const seriesByName = new Array<BatchSeries | undefined>(names.length);
    let stored = 0;
    let maxSeq = -1;
    let earliestTs = Number.POSITIVE_INFINITY;
    let step = 0;
    let ts = 0;
    for (let index = 0; index < count; index++) {
      // The running sums go on over duplicates: each delta is from the point before, stored or not.
      step += stepDeltas[index]!;
      ts += tsDeltas[index]!;
      if (fresh[index] === 0) continue;
      stored++;
      const pointSeq = seqs[index]!;
      if (pointSeq > maxSeq) maxSeq = pointSeq;
      if (ts < earliestTs) earliestTs = ts;
      const position = nameIndex[index]!;
      let target = seriesByName[position];
      if (target === undefined) {
        const labels = columns.labels?.[position] ?? undefined;
        target = this.batchSeries(
          run.key,
          points,
          bySeriesName,
          names[position]!,
          labels,
          step,
          ts,
        );
        seriesByName[position] = target;
      }
      this.storePoint(target, step, pointSeq, ts, decodeValue(values[index]!));
    }
    return { stored, duplicates: count - stored, maxSeq, earliestTs };
  }

  /** The batch's entry for a series, made (with its FlatPoints list) at its first point. */
  private batchSeries(
    runKey: number,
    points: FlatPoints,
    bySeriesName: Map<string, BatchSeries>,
    metric: string,
    labels: Labels | undefined,
    step: number,
    ts: number,
  ): BatchSeries {
    const name = metricSeriesName(metric, labels);
    let entry = bySeriesName.get(name);
    if (entry === undefined) {
      const series = this.seriesState(runKey, name, metric, labels, step, ts);
      entry = { series, points: [], seqs: [] };
      points[name] = entry.points;
      bySeriesName.set(name, entry);
      this.pendingSeries.push(entry);
    }
    return entry;
  }

  private storePoint(
    target: BatchSeries,
    step: number,
    seq: number,
    ts: number,
    value: number,
  ): void {
    target.points.push(step, value, ts);
    target.seqs.push(seq);
    const { series } = target;
    series.count++;
    if (Number.isNaN(value)) series.nanCount++;
    else {
      if (!(value >= series.min)) series.min = value;
      if (!(value <= series.max)) series.max = value;
    }
    if (step < series.minStep) series.minStep = step;
    if (ts < series.firstTs) series.firstTs = ts;
    if (step > series.latestStep || (step === series.latestStep && seq > series.latestSeq)) {
      series.latestStep = step;
      series.latestSeq = seq;
      series.latestValue = value;
      series.latestTs = ts;
    }
    if (seq > series.lastSeq) {
      series.lastSeq = seq;
      series.lastLoggedStep = step;
      series.lastValue = value;
      series.lastTs = ts;
    }

    const block = Math.floor(step / SMALLEST_BLOCK);
    let aggregate = series.currentAggregate;
    if (block !== series.currentBlock || aggregate === undefined) {
      aggregate = series.blocks.get(block);
      if (aggregate === undefined) {
        series.blocks.set(block, pointAggregate(step, seq, ts, value));
        series.currentBlock = block;
        series.currentAggregate = series.blocks.get(block);
        this.touched.add(series);
        return;
      }
      series.currentBlock = block;
      series.currentAggregate = aggregate;
    }
    addPoint(aggregate, step, seq, ts, value);
    this.touched.add(series);
  }

  private seriesState(
    runKey: number,
    name: string,
    metric: string,
    labels: Labels | undefined,
    step: number,
    ts: number,
  ): SeriesState {
    const cacheKey = `${runKey}\u0000${name}`;
    const cached = this.series.get(cacheKey);
    if (cached !== undefined) return cached;
    let row = this.statements.findSeries.get(runKey, name) as Record<string, number> | undefined;
    if (row === undefined) {
      this.statements.createSeries.run(
        runKey,
        name,
        metric,
        labels ? JSON.stringify(labels) : null,
        step,
        ts,
        step,
        ts,
        step,
        ts,
      );
      row = this.statements.findSeries.get(runKey, name) as Record<string, number>;
    }
    const state: SeriesState = {
      key: row.series_key!,
      count: row.count!,
      nanCount: row.nan_count!,
      min: fromStored(row.min_value ?? null),
      max: fromStored(row.max_value ?? null),
      minStep: row.min_step!,
      firstTs: row.first_ts!,
      latestStep: row.latest_step!,
      latestSeq: row.latest_seq!,
      latestValue: fromStored(row.latest_value ?? null),
      latestTs: row.latest_ts!,
      lastLoggedStep: row.last_step!,
      lastSeq: row.last_seq!,
      lastValue: fromStored(row.last_value ?? null),
      lastTs: row.last_ts!,
      chunkSpan: row.chunk_span!,
      blocks: new Map(),
      currentBlock: -1,
      currentAggregate: undefined,
    };
    this.series.set(cacheKey, state);
    return state;
  }

  /** Writes the transaction's points in chunks, series by series (pendingSeries). */
  private flushPoints(): void {
    // A series' lists of every batch of the transaction, together (one list needs no copy).
    const bySeries = new Map<SeriesState, NewPoints>();
    for (const { series, points: flat, seqs } of this.pendingSeries) {
      const earlier = bySeries.get(series);
      bySeries.set(
        series,
        earlier === undefined
          ? { flat, seqs }
          : { flat: earlier.flat.concat(flat), seqs: earlier.seqs.concat(seqs) },
      );
    }
    for (const [series, points] of bySeries) {
      const span = this.chunks.write(series.key, points);
      if (span > series.chunkSpan) {
        series.chunkSpan = span;
        this.touched.add(series);
      }
    }
    this.pendingSeries.length = 0;
  }

  /** Writes the touched series' summaries and blocks. */
  private flushSummaries(): void {
    const { statements, rollups } = this;
    for (const series of this.touched) {
      statements.updateSeries.run(
        series.count,
        series.nanCount,
        toStored(series.min),
        toStored(series.max),
        series.minStep,
        series.firstTs,
        series.latestStep,
        series.latestSeq,
        toStored(series.latestValue),
        series.latestTs,
        series.lastLoggedStep,
        series.lastSeq,
        toStored(series.lastValue),
        series.lastTs,
        series.chunkSpan,
        series.key,
      );
      for (const size of BLOCK_SIZES) {
        const merged =
          size === SMALLEST_BLOCK
            ? series.blocks
            : mergeBlocks(series.blocks, size / SMALLEST_BLOCK);
        for (const [block, aggregate] of merged) {
          const row = rollups.nextRow();
          const { values } = rollups;
          values[row] = series.key;
          values[row + 1] = size;
          values[row + 2] = block;
          values[row + 3] = aggregate.count;
          values[row + 4] = aggregate.nanCount;
          values[row + 5] = toStored(aggregate.min);
          values[row + 6] = toStored(aggregate.max);
          values[row + 7] = aggregate.firstStep;
          values[row + 8] = aggregate.firstTs;
          values[row + 9] = aggregate.lastTs;
          values[row + 10] = aggregate.lastStep;
          values[row + 11] = aggregate.lastSeq;
          values[row + 12] = toStored(aggregate.lastValue);
        }
      }
      series.blocks.clear();
      series.currentBlock = -1;
      series.currentAggregate = undefined;
    }
    rollups.flush();
    this.touched.clear();
    if (this.series.size >= SERIES_CACHE_SIZE) this.series.clear();
  }
}

/** A protocol value as a number, without a call for the common finite case. */
function decodeValue(value: MetricValue): number {
  return typeof value === 'number' ? value : decodeMetricValue(value);
}

/** Adds one point to an aggregate, in place (no allocation on the hot path). */
function addPoint(into: Aggregate, step: number, seq: number, ts: number, value: number): void {
  into.count++;
  if (Number.isNaN(value)) into.nanCount++;
  else {
    if (!(value >= into.min)) into.min = value;
    if (!(value <= into.max)) into.max = value;
  }
  if (step < into.firstStep) into.firstStep = step;
  if (ts < into.firstTs) into.firstTs = ts;
  if (ts > into.lastTs) into.lastTs = ts;
  if (step > into.lastStep || (step === into.lastStep && seq > into.lastSeq)) {
    into.lastStep = step;
    into.lastSeq = seq;
    into.lastValue = value;
  }
}

/** Blocks of the smallest size merged into blocks `factor` times larger. */
function mergeBlocks(blocks: Map<number, Aggregate>, factor: number): Map<number, Aggregate> {
  const merged = new Map<number, Aggregate>();
  for (const [block, aggregate] of blocks) {
    const target = Math.floor(block / factor);
    const existing = merged.get(target);
    if (existing === undefined) merged.set(target, copyAggregate(aggregate));
    else mergeAggregate(existing, aggregate);
  }
  return merged;
}
