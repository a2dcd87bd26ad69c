/**
 * A spool file keeps batches a sink could not deliver yet, on disk, in the JSONL record format
 * (a header line with the run, then one event per line), so `livestep sync` can replay it too.
 * Batches are appended; a reader takes them back in order from a byte offset, which is saved
 * beside the file (`<file>.offset`) as delivery advances, so a later replay starts where this one
 * stopped.
 *
 * Appends are synchronous, one write per batch: a training loop that never yields to the event
 * loop never lets an asynchronous write run, so a spool written asynchronously would pile its
 * text up in memory for as long as the loop runs. Written at once, what the spool holds is on
 * disk when `append` returns, and its memory is what one batch takes.
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
import type { Batch, RunEvent, RunIdentity } from '../protocol/events.js';
import { serializeEventLine, serializeRunHeader } from '../protocol/jsonl-record.js';

/** How much of the file one read takes: enough for a full batch of ordinary events. */
const READ_CHUNK_BYTES = 1024 * 1024;

export interface SpoolChunk {
  events: RunEvent[];
  /** Offset just past the chunk's last line: pass it to `acknowledge` once delivered. */
  endOffset: number;
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

  constructor(
    readonly path: string,
    readonly run: RunIdentity,
  ) {}

  private render(batch: Batch): string {
    let text = '';
    if (!this.headerWritten) text = serializeRunHeader(this.run);
    for (const event of batch.events) text += serializeEventLine(event);
    return text;
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
    const bytes = Buffer.from(this.render(batch));
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

  /** Reads up to `maxEvents` events after the acknowledged offset (skipping the header line). */
  async read(maxEvents: number): Promise<SpoolChunk> {
    const from = this.readOffset;
    const remaining = this.size - from;
    const handle = await open(this.path, 'r');
    try {
      let length = Math.min(READ_CHUNK_BYTES, remaining);
      let text = '';
      for (;;) {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, from);
        text = buffer.subarray(0, bytesRead).toString('utf8');
        // One line longer than a chunk (a large image): read more until it is whole.
        if (text.includes('\n') || length >= remaining) break;
        length = Math.min(length * 2, remaining);
      }
      const events: RunEvent[] = [];
      let consumed = 0;
      while (events.length < maxEvents) {
        const newline = text.indexOf('\n', consumed);
        if (newline === -1) break;
        const line = text.slice(consumed, newline);
        consumed = newline + 1;
        const record = JSON.parse(line) as Record<string, unknown>;
        if ('kind' in record) events.push(record as unknown as RunEvent);
      }
      const endOffset = from + Buffer.byteLength(text.slice(0, consumed));
      return { events, endOffset };
    } finally {
      await handle.close();
    }
  }

  /** Marks everything before `offset` delivered, and remembers it on disk for a later replay. */
  acknowledge(offset: number): void {
    this.readOffset = offset;
    writeFileSync(`${this.path}.offset`, String(offset));
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
    rmSync(this.path, { force: true });
    rmSync(`${this.path}.offset`, { force: true });
  }
}
