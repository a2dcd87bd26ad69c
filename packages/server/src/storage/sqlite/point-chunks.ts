/**
 * Metric points stored in chunks: one `point_chunks` row holds up to CHUNK_POINTS points of one
 * series, sorted by (step, seq), packed as float64 quadruples (step, seq, ts, value; NaN and ±inf
 * kept as they are). A row a point cost the embedded store about 0.8 µs of SQLite a point (a
 * B-tree insert each, the largest cost of ingest); in chunks it costs about 0.1 µs a point,
 * packing included.
 *
 * A chunk covers a range of steps; chunks of one series may overlap (points that arrive late,
 * out of order), so readers merge them. Their step span is bounded (CHUNK_STEP_SPAN) and each
 * series remembers the widest it has (`series.chunk_span`): the chunks that can hold a step
 * start no earlier than that step minus the span, so a read seeks there instead of scanning the
 * series from its start.
 */
import type Database from 'better-sqlite3';

/** Points a chunk holds at most: 64 KiB of data, a few SQLite pages in one row. */
export const CHUNK_POINTS = 2_048;
/** Steps a chunk spans at most, so that a read seeks at most this far before the steps it wants. */
export const CHUNK_STEP_SPAN = 65_536;
/** Numbers a point takes in a chunk: step, seq, ts, value. */
const FIELDS = 4;

/**
 * One series' new points, in any order: `flat` holds (step, value, ts) a point, as the live
 * stream's lists do (FlatPoints), and `seqs` the seq of each.
 */
export interface NewPoints {
  flat: readonly number[];
  seqs: readonly number[];
}

/** Numbers a point takes in NewPoints.flat: step, value, ts. */
const FLAT_FIELDS = 3;

/** A point as a read gives it. */
export type StoredPoint = [step: number, seq: number, ts: number, value: number];

/**
 * The points in chunk rows, sorted by (step, seq), a point repeated (same step and seq) kept
 * once: the first one. Returns the rows to insert and the widest step span among them.
 */
export function chunkPoints(points: NewPoints): {
  chunks: Array<{ first: StoredPoint; last: StoredPoint; count: number; data: Buffer }>;
  span: number;
} {
  const { flat, seqs } = points;
  const count = seqs.length;
  const stepOf = (index: number) => flat[index * FLAT_FIELDS]!;
  let sorted = true;
  for (let index = 1; index < count; index++) {
    const step = stepOf(index);
    const before = stepOf(index - 1);
    if (before > step || (before === step && seqs[index - 1]! >= seqs[index]!)) {
      sorted = false;
      break;
    }
  }
  // The points in (step, seq) order: as they came (the usual case, no index made), or sorted,
  // stably, so that among equal keys the first to arrive comes first and is the one kept.
  let order: number[] | undefined;
  if (!sorted) {
    order = Array.from({ length: count }, (_, index) => index);
    order.sort((a, b) => stepOf(a) - stepOf(b) || seqs[a]! - seqs[b]! || a - b);
  }
  const chunks: Array<{ first: StoredPoint; last: StoredPoint; count: number; data: Buffer }> = [];
  let span = 0;
  let start = 0;
  // Across chunks too: a point repeated at a chunk's edge is kept once.
  let previousStep = Number.NaN;
  let previousSeq = Number.NaN;
  while (start < count) {
    const data = new Float64Array(Math.min(CHUNK_POINTS, count - start) * FIELDS);
    const firstStep = stepOf(order === undefined ? start : order[start]!);
    let length = 0;
    let position = start;
    for (; position < count && length < CHUNK_POINTS; position++) {
      const index = order === undefined ? position : order[position]!;
      const from = index * FLAT_FIELDS;
      const step = flat[from]!;
      if (step - firstStep > CHUNK_STEP_SPAN) break;
      const seq = seqs[index]!;
      if (step === previousStep && seq === previousSeq) continue;
      const at = length * FIELDS;
      data[at] = step;
      data[at + 1] = seq;
      data[at + 2] = flat[from + 2]!;
      data[at + 3] = flat[from + 1]!;
      previousStep = step;
      previousSeq = seq;
      length++;
    }
    start = position;
    if (length === 0) continue; // every point left here repeated the one before
    const last = (length - 1) * FIELDS;
    chunks.push({
      first: [data[0]!, data[1]!, data[2]!, data[3]!],
      last: [data[last]!, data[last + 1]!, data[last + 2]!, data[last + 3]!],
      count: length,
      data: Buffer.from(data.buffer, 0, length * FIELDS * 8),
    });
    span = Math.max(span, data[last]! - data[0]!);
  }
  return { chunks, span };
}

/** A chunk's points, in their stored order (by step, then seq). */
export function decodeChunk(data: Buffer): Float64Array {
  // Copied to an aligned buffer: a BLOB's bytes need not start on an 8-byte boundary.
  const copy = new Float64Array(data.length / 8);
  new Uint8Array(copy.buffer).set(data);
  return copy;
}

/**
 * A chunk below this many points takes the next commit's points when they all come after it: a
 * live run sends a few points a series a commit, and without this would store a chunk a point.
 * Rewriting it costs at most this many points' bytes (8 KiB) a commit.
 */
export const SMALL_CHUNK_POINTS = 256;
/** Series whose last chunk is remembered; past this the memory starts again. */
const TAILS_CACHE_SIZE = 50_000;

/** The chunk of a series that starts last: the one points logged in order extend. */
interface Tail {
  key: number;
  count: number;
  firstStep: number;
  firstSeq: number;
  lastStep: number;
  lastSeq: number;
}

/** Writes chunk rows. */
export class PointChunkWriter {
  private readonly insert: Database.Statement;
  private readonly update: Database.Statement;
  private readonly readData: Database.Statement;
  private readonly findTail: Database.Statement;
  /** Per series, its last chunk (null: none yet), as far as this writer knows. */
  private readonly tails = new Map<number, Tail | null>();

  constructor(database: Database.Database) {
    this.insert = database.prepare(
      `INSERT INTO point_chunks (series_key, first_step, first_seq, last_step, last_seq, count, data)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.update = database.prepare(
      'UPDATE point_chunks SET last_step = ?, last_seq = ?, count = ?, data = ? WHERE chunk_key = ?',
    );
    this.readData = database.prepare('SELECT data FROM point_chunks WHERE chunk_key = ?').pluck();
    this.findTail = database.prepare(
      `SELECT chunk_key AS key, count, first_step AS firstStep, first_seq AS firstSeq,
         last_step AS lastStep, last_seq AS lastSeq
       FROM point_chunks WHERE series_key = ? ORDER BY first_step DESC, first_seq DESC LIMIT 1`,
    );
  }

  /** Forgets what it knows of the chunks (after a rolled-back transaction). */
  reset(): void {
    this.tails.clear();
  }

  /** Stores a series' new points; returns the widest step span of the chunks written. */
  write(seriesKey: number, points: NewPoints): number {
    let tail = this.tails.get(seriesKey);
    if (tail === undefined) {
      if (this.tails.size >= TAILS_CACHE_SIZE) this.tails.clear();
      tail = (this.findTail.get(seriesKey) as Tail | undefined) ?? null;
      this.tails.set(seriesKey, tail);
    }
    if (tail !== null && tail.count < SMALL_CHUNK_POINTS) {
      const span = this.extend(tail, points);
      if (span !== undefined) return span;
    }
    const { chunks, span } = chunkPoints(points);
    for (const chunk of chunks) {
      const { lastInsertRowid } = this.insert.run(
        seriesKey,
        chunk.first[0],
        chunk.first[1],
        chunk.last[0],
        chunk.last[1],
        chunk.count,
        chunk.data,
      );
      // The chunk that starts last is the tail (chunks of points that came late start earlier).
      const last = this.tails.get(seriesKey);
      const [firstStep, firstSeq] = chunk.first;
      if (
        last == null ||
        firstStep > last.firstStep ||
        (firstStep === last.firstStep && firstSeq > last.firstSeq)
      ) {
        this.tails.set(seriesKey, {
          key: Number(lastInsertRowid),
          count: chunk.count,
          firstStep,
          firstSeq,
          lastStep: chunk.last[0],
          lastSeq: chunk.last[1],
        });
      }
    }
    return span;
  }

  /**
   * Adds the points to the tail chunk when they all come after it and it can hold them within
   * its bounds; returns the chunk's span then, else undefined (nothing written).
   */
  private extend(tail: Tail, points: NewPoints): number | undefined {
    const { flat, seqs } = points;
    const count = seqs.length;
    if (tail.count + count > CHUNK_POINTS) return undefined;
    for (let index = 0; index < count; index++) {
      const step = flat[index * FLAT_FIELDS]!;
      if (step < tail.lastStep || (step === tail.lastStep && seqs[index]! <= tail.lastSeq)) {
        return undefined;
      }
      if (step - tail.firstStep > CHUNK_STEP_SPAN) return undefined;
    }
    const old = decodeChunk(this.readData.get(tail.key) as Buffer);
    const joined: number[] = [];
    const joinedSeqs: number[] = [];
    for (let at = 0; at < old.length; at += FIELDS) {
      joined.push(old[at]!, old[at + 3]!, old[at + 2]!);
      joinedSeqs.push(old[at + 1]!);
    }
    for (let index = 0; index < count; index++) {
      const from = index * FLAT_FIELDS;
      joined.push(flat[from]!, flat[from + 1]!, flat[from + 2]!);
      joinedSeqs.push(seqs[index]!);
    }
    const { chunks, span } = chunkPoints({ flat: joined, seqs: joinedSeqs });
    const [chunk] = chunks;
    if (chunk === undefined || chunks.length !== 1) return undefined;
    this.update.run(chunk.last[0], chunk.last[1], chunk.count, chunk.data, tail.key);
    tail.count = chunk.count;
    tail.lastStep = chunk.last[0];
    tail.lastSeq = chunk.last[1];
    return span;
  }
}

/** Reads a series' points from its chunks. */
export class PointChunkReader {
  private readonly fromStep: Database.Statement;

  constructor(database: Database.Database) {
    // Chunks by first step; data last, so a row skipped is skipped without reading its points.
    this.fromStep = database.prepare(
      `SELECT first_step, first_seq, data FROM point_chunks
       WHERE series_key = ? AND first_step >= ? AND first_step <= ?
       ORDER BY first_step, first_seq, chunk_key`,
    );
  }

  /**
   * Every point with `low <= step <= high`, chunk by chunk (not in one order when chunks
   * overlap). `span`: the series' widest chunk span.
   */
  *range(seriesKey: number, span: number, low: number, high: number): Generator<StoredPoint> {
    for (const row of this.fromStep.iterate(seriesKey, low - span, high) as Iterable<{
      data: Buffer;
    }>) {
      const points = decodeChunk(row.data);
      for (let at = 0; at < points.length; at += FIELDS) {
        const step = points[at]!;
        if (step < low || step > high) continue;
        yield [step, points[at + 1]!, points[at + 2]!, points[at + 3]!];
      }
    }
  }

  /**
   * The first `limit` points after (afterStep, afterSeq) in (step, seq) order, each once:
   * history paging. Chunks are read in order of their first point until the next could hold
   * nothing before the `limit`th point found.
   */
  page(
    seriesKey: number,
    span: number,
    afterStep: number,
    afterSeq: number,
    limit: number,
  ): StoredPoint[] {
    let found: StoredPoint[] = [];
    /** True while `found` is in (step, seq) order with no point twice. */
    let tidy = true;
    for (const row of this.fromStep.iterate(
      seriesKey,
      afterStep - span,
      Number.MAX_SAFE_INTEGER,
    ) as Iterable<{ first_step: number; first_seq: number; data: Buffer }>) {
      if (found.length >= limit) {
        if (!tidy) {
          found = sortedUnique(found);
          tidy = true;
        }
        // Counted once each (a point stored twice must not stop the page short).
        if (found.length >= limit) {
          const bound = found[limit - 1]!;
          if (
            row.first_step > bound[0] ||
            (row.first_step === bound[0] && row.first_seq > bound[1])
          )
            break;
        }
      }
      const points = decodeChunk(row.data);
      for (let at = 0; at < points.length; at += FIELDS) {
        const step = points[at]!;
        const seq = points[at + 1]!;
        if (step < afterStep || (step === afterStep && seq <= afterSeq)) continue;
        const previous = found.at(-1);
        if (previous !== undefined && comparePoints(previous, [step, seq, 0, 0]) >= 0) {
          tidy = false;
        }
        found.push([step, seq, points[at + 2]!, points[at + 3]!]);
      }
    }
    if (!tidy) found = sortedUnique(found);
    if (found.length > limit) found.length = limit;
    return found;
  }
}

/** The points in (step, seq) order, a point stored twice (by chunks that overlap) given once. */
function sortedUnique(points: StoredPoint[]): StoredPoint[] {
  points.sort(comparePoints);
  const unique: StoredPoint[] = [];
  for (const point of points) {
    const previous = unique.at(-1);
    if (previous !== undefined && previous[0] === point[0] && previous[1] === point[1]) continue;
    unique.push(point);
  }
  return unique;
}

function comparePoints(a: StoredPoint, b: StoredPoint): number {
  return a[0] - b[0] || a[1] - b[1];
}
