/**
 * A spool file keeps batches a sink could not deliver yet, on disk, in the JSONL record format
 * (a header line with the run, then one event per line), so `livestep sync` can replay it too.
 * Batches are appended; a reader takes them back in order from a byte offset, which is saved
 * beside the file (`<file>.offset`) as delivery advances, so a later replay starts where this one
 * stopped.
 */
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { type FileHandle, mkdir, open, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Batch, RunEvent, RunIdentity } from '../protocol.js';
import { serializeEventLine, serializeRunHeader } from '../sinks/jsonl-sink.js';

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
  /** Text appended but not yet written: one write takes all of it, so appends never queue up. */
  private unwritten: string[] = [];
  private writing: Promise<void> | undefined;
  /** A removal in progress: appends made meanwhile start the next file once it is gone. */
  private removing: Promise<void> | undefined;
  private file: FileHandle | undefined;

  constructor(
    readonly path: string,
    readonly run: RunIdentity,
  ) {}

  private render(batch: Batch): string {
    let text = '';
    if (!this.headerWritten) {
      text = serializeRunHeader(this.run);
      this.headerWritten = true;
    }
    for (const event of batch.events) text += serializeEventLine(event);
    return text;
  }

  /** Appends a batch; resolves once it is on disk. Appends made meanwhile share one write. */
  append(batch: Batch): Promise<void> {
    this.unwritten.push(this.render(batch));
    this.writing ??= this.writeAll().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  private async writeAll(): Promise<void> {
    await this.removing;
    while (this.unwritten.length > 0) {
      const text = this.unwritten.join('');
      this.unwritten = [];
      if (this.file === undefined) {
        await mkdir(dirname(this.path), { recursive: true });
        this.file = await open(this.path, 'a');
      }
      await this.file.appendFile(text);
      this.size += Buffer.byteLength(text);
    }
  }

  /** For the last moment of a process, when nothing asynchronous can finish. */
  appendSync(batch: Batch): void {
    const text = this.unwritten.join('') + this.render(batch);
    this.unwritten = [];
    mkdirSync(dirname(this.path), { recursive: true });
    appendFileSync(this.path, text);
    this.size += Buffer.byteLength(text);
  }

  async close(): Promise<void> {
    await this.writing;
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  /** True when every appended byte was written, read and acknowledged. */
  get drained(): boolean {
    return (
      this.readOffset >= this.size &&
      this.unwritten.length === 0 &&
      this.writing === undefined &&
      this.removing === undefined
    );
  }

  /** Reads up to `maxEvents` events after the acknowledged offset (skipping the header line). */
  async read(maxEvents: number): Promise<SpoolChunk> {
    const handle = await open(this.path, 'r');
    try {
      const remaining = this.size - this.readOffset;
      let length = Math.min(READ_CHUNK_BYTES, remaining);
      let text = '';
      for (;;) {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, this.readOffset);
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
      const endOffset = this.readOffset + Buffer.byteLength(text.slice(0, consumed));
      return { events, endOffset };
    } finally {
      await handle.close();
    }
  }

  /** Marks everything before `offset` delivered, and remembers it on disk for a later replay. */
  async acknowledge(offset: number): Promise<void> {
    this.readOffset = offset;
    await writeFile(`${this.path}.offset`, String(offset));
  }

  /**
   * Deletes the file once everything in it was delivered. The next append starts a new file with
   * its own header: it may come while the deletion is under way, and then waits for it.
   */
  async remove(): Promise<void> {
    const removal = (async () => {
      await this.close();
      await rm(this.path, { force: true });
      await rm(`${this.path}.offset`, { force: true });
    })();
    // At once, not after the await: an append made during the removal belongs to the next file.
    this.size = 0;
    this.readOffset = 0;
    this.headerWritten = false;
    const tracked = removal.finally(() => {
      if (this.removing === tracked) this.removing = undefined;
    });
    this.removing = tracked;
    await tracked;
  }

  removeSync(): void {
    rmSync(this.path, { force: true });
    rmSync(`${this.path}.offset`, { force: true });
  }
}
