/**
 * A spool file keeps batches a sink could not deliver yet, on disk, in the JSONL record format
 * (a header line with the run, then one event per line, and runs of metric points as one line of
 * metric columns), so `livestep sync` can replay it too. Batches are appended; a reader takes
 * them back in order from a byte offset, which is saved beside the file (`<file>.offset`) as
 * delivery advances (at most every 200 ms), so a later replay can start where this one stopped.
 *
 * Appends are synchronous, one write per batch: a training loop that never yields to the event
 * loop never lets an asynchronous write run, so a spool written asynchronously would pile its
 * text up in memory for as long as the loop runs. Written at once, what the spool holds is on
 * disk when `append` returns, and its memory is what one batch takes.
 *
 * Why columns: a flood that outruns the server goes through the spool, and there a point cost
 * more than everything else together (written as a 150-byte line, read back with a JSON.parse of
 * its own: 0.77 µs of the client's ~3.3). As columns a point takes ~28 bytes, and `readWire`
 * hands the lines on as they are, a request's `events` text, with nothing parsed: the spool
 * remembers where each of its lines starts and how many events it holds.
 */
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Batch, MetricColumns, RunEvent, RunIdentity } from '../protocol/events.js';
import { METRIC_COLUMNS_KIND } from '../protocol/events.js';
import { serializeEventLine, serializeRunHeader } from '../protocol/jsonl-record.js';
import {
  expandMetricColumns,
  metricColumnsLength,
  withMetricColumns,
} from '../protocol/metric-columns.js';

export interface SpoolChunk {
  /** The events, columns expanded back into metric events. */
  events: RunEvent[];
  /** Offset just past the chunk's last line: pass it to `acknowledge` once delivered. */
  endOffset: number;
}

/** Spooled lines as a request carries them, with no line parsed. */
export interface SpoolWireChunk {
  /** The lines joined by commas: a request's `events` array, without its brackets (protocol v1, may hold metric columns). */
  wire: string;
  /** Events the lines hold (a columns line counts its points). */
  count: number;
  /** True when some line is metric columns (only a server that takes them can take `wire`). */
  columns: boolean;
  /**
   * True when the lines hold metric points only. A chunk is lines of one sort: points only, or
   * other events (start, params, done...), which a sender keeps in order behind everything
   * before them, where points may overlap.
   */
  metricsOnly: boolean;
  /** Offset just past the chunk's last line: pass it to `acknowledge` once delivered. */
  endOffset: number;
  /** The events, parsed and expanded: for a server that takes objects, or to split a refusal. */
  decode(): RunEvent[];
}

/** Where a line appended by this process lies, and how many events it holds. */
interface SpoolLine {
  start: number;
  end: number;
  events: number;
  columns: boolean;
  metricsOnly: boolean;
}

/** The acknowledged offset goes to disk at most this often. */
const OFFSET_WRITE_INTERVAL_MS = 200;
/** Read lines are dropped from the index in groups this large (not one splice per read). */
const COMPACT_LINES = 1024;

function decodeLines(text: string): RunEvent[] {
  const events: RunEvent[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const record = JSON.parse(line) as RunEvent | MetricColumns;
    if (record.kind === METRIC_COLUMNS_KIND) {
      // A loop, not a spread: a block of 150,000 points would overflow the call's arguments.
      for (const event of expandMetricColumns(record)) events.push(event);
    } else events.push(record);
  }
  return events;
}

export class Spool {
  /** Bytes written to the file (what a reader may read). */
  private size = 0;
  private readOffset = 0;
  private headerWritten = false;
  /** The file, open for appending while the spool is in use. */
  private descriptor: number | undefined;
  /** True once size and offsets describe the file on disk (until it is removed). */
  private tracking = false;
  /** The lines this process appended, in order; `lines[firstLine]` is the first not yet read back. */
  private lines: SpoolLine[] = [];
  private firstLine = 0;
  private offsetWrittenAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly path: string,
    readonly run: RunIdentity,
  ) {}

  /** The batch's lines (metric runs as columns) and where each ends, from `offset` on. */
  private render(batch: Batch, offset: number): { text: string; lines: SpoolLine[] } {
    let text = this.headerWritten ? '' : serializeRunHeader(this.run);
    let position = offset + Buffer.byteLength(text);
    const lines: SpoolLine[] = [];
    for (const item of withMetricColumns(batch.events) ?? batch.events) {
      const columns = item.kind === METRIC_COLUMNS_KIND;
      const line = columns ? `${JSON.stringify(item)}\n` : serializeEventLine(item);
      const end = position + Buffer.byteLength(line);
      lines.push({
        start: position,
        end,
        events: columns ? metricColumnsLength(item) : 1,
        columns,
        metricsOnly: columns || item.kind === 'metric',
      });
      text += line;
      position = end;
    }
    return { text, lines };
  }

  /**
   * Appends a batch; it is on disk when this returns. Throws when the disk fails, after cutting
   * off what part of the batch was written, so the file never holds half a line.
   */
  append(batch: Batch): void {
    if (this.descriptor === undefined) {
      mkdirSync(dirname(this.path), { recursive: true });
      this.descriptor = openSync(this.path, 'a');
      if (!this.tracking) {
        // A file found there (one this spool could not delete) is not replayed again: reading
        // starts at its end, and it has its header already.
        const existing = fstatSync(this.descriptor).size;
        this.size = existing;
        this.readOffset = existing;
        this.headerWritten = existing > 0;
        this.tracking = true;
      }
    }
    const { text, lines } = this.render(batch, this.size);
    const bytes = Buffer.from(text);
    try {
      let written = 0;
      while (written < bytes.length) {
        written += writeSync(this.descriptor, bytes, written, bytes.length - written);
      }
    } catch (error) {
      try {
        ftruncateSync(this.descriptor, this.size);
      } catch {
        // The disk refuses even that; the reader stops at `size` all the same.
      }
      throw error;
    }
    this.headerWritten = true;
    this.size += bytes.length;
    for (const line of lines) this.lines.push(line);
  }

  close(): void {
    const descriptor = this.descriptor;
    this.descriptor = undefined;
    if (descriptor !== undefined) closeSync(descriptor);
  }

  /** True when every appended byte was read and acknowledged. */
  get drained(): boolean {
    return this.readOffset >= this.size;
  }

  /** Reads up to `maxEvents` events after the acknowledged offset, decoded (at least one line). */
  async read(maxEvents: number): Promise<SpoolChunk> {
    const chunk = await this.readWire(maxEvents);
    return { events: chunk.decode(), endOffset: chunk.endOffset };
  }

  /**
   * Reads whole lines of one sort (see SpoolWireChunk.metricsOnly) after `after` (default: the
   * acknowledged offset; a sender with a request in flight reads on from its end), up to
   * `maxEvents` events (at least one line, however many events it holds), as a request's
   * `events` text, parsing none of them.
   */
  async readWire(maxEvents: number, after = this.readOffset): Promise<SpoolWireChunk> {
    const lines = this.lines;
    let index = this.firstLine;
    while (index < lines.length && lines[index]!.end <= after) index++;
    const first = lines[index];
    if (first === undefined) {
      return {
        wire: '',
        count: 0,
        columns: false,
        metricsOnly: true,
        endOffset: Math.max(after, this.size),
        decode: () => [],
      };
    }
    let count = 0;
    let columns = false;
    let last = index;
    for (; last < lines.length; last++) {
      const line = lines[last]!;
      const another = line.metricsOnly !== first.metricsOnly;
      if (last > index && (another || count + line.events > maxEvents)) break;
      count += line.events;
      columns ||= line.columns;
    }
    const start = first.start;
    const end = lines[last - 1]!.end;
    const buffer = Buffer.alloc(end - start);
    const handle = await open(this.path, 'r');
    try {
      let read = 0;
      while (read < buffer.length) {
        const { bytesRead } = await handle.read(buffer, read, buffer.length - read, start + read);
        if (bytesRead === 0) throw new Error(`the spool file ${this.path} is shorter than written`);
        read += bytesRead;
      }
    } finally {
      await handle.close();
    }
    // Lines end in a newline, and JSON text has none of its own: joined by commas they are a list.
    const text = buffer.toString('utf8', 0, buffer.length - 1);
    return {
      wire: text.replaceAll('\n', ','),
      count,
      columns,
      metricsOnly: first.metricsOnly,
      endOffset: end,
      decode: () => decodeLines(text),
    };
  }

  /**
   * Marks everything before `offset` delivered, and remembers it on disk for a later replay, at
   * most every OFFSET_WRITE_INTERVAL_MS: a file written a chunk took 5% of a flood's client CPU,
   * and an offset that lags only makes a later replay send again what the server then finds it
   * has (event ids).
   */
  acknowledge(offset: number): void {
    this.readOffset = offset;
    const now = Date.now();
    if (now - this.offsetWrittenAt >= OFFSET_WRITE_INTERVAL_MS) {
      writeFileSync(`${this.path}.offset`, String(offset));
      this.offsetWrittenAt = now;
    }
    while (this.firstLine < this.lines.length && this.lines[this.firstLine]!.end <= offset) {
      this.firstLine++;
    }
    if (this.firstLine >= COMPACT_LINES) {
      this.lines = this.lines.slice(this.firstLine);
      this.firstLine = 0;
    }
  }

  /**
   * Deletes the file once everything in it was delivered. The next append starts a new file with
   * its own header.
   */
  remove(): void {
    this.close();
    this.tracking = false;
    this.size = 0;
    this.readOffset = 0;
    this.headerWritten = false;
    this.lines = [];
    this.firstLine = 0;
    rmSync(this.path, { force: true });
    rmSync(`${this.path}.offset`, { force: true });
  }
}
