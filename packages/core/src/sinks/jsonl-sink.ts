/**
 * The JSONL sink keeps a complete record of a run, one JSON object per line (the record format of
 * ../protocol/jsonl-record.ts): the offline record that can be replayed to a server later, and the
 * cheapest sink there is.
 */
import { closeSync, fstatSync, openSync, readSync, truncateSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Sink } from '../pipeline/sink.js';
import type { Batch } from '../protocol/events.js';
import { serializeEventLine, serializeRunHeader } from '../protocol/jsonl-record.js';
import { createAppendFiles } from './append-files.js';

export interface JsonlSinkOptions {
  /** The file to append to (created with its folders). Several runs may share one file. */
  path: string;
}

/** How far back from its end a file is searched for a newline; a line is rarely longer. */
const UNFINISHED_LINE_SEARCH_BYTES = 1 << 20;

/**
 * The length of the file up to and including its last newline, when it ends in an unfinished
 * line; undefined when it is missing, empty, ends in a newline, or has no newline near its end.
 */
function lengthUpToLastNewline(path: string): number | undefined {
  let descriptor: number;
  try {
    descriptor = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(descriptor).size;
    if (size === 0) return undefined;
    const start = Math.max(0, size - UNFINISHED_LINE_SEARCH_BYTES);
    const tail = Buffer.alloc(size - start);
    readSync(descriptor, tail, 0, tail.length, start);
    if (tail.at(-1) === 0x0a) return undefined;
    const newline = tail.lastIndexOf(0x0a);
    if (newline < 0) return start === 0 ? 0 : undefined;
    return start + newline + 1;
  } finally {
    closeSync(descriptor);
  }
}

export function createJsonlSink(options: JsonlSinkOptions): Sink {
  if (typeof options?.path !== 'string' || options.path === '') {
    throw new TypeError(
      'livestep: createJsonlSink needs { path }, the file to write, e.g. "runs/run.jsonl"',
    );
  }
  const path = resolve(options.path);
  const file = createAppendFiles(1);
  let headerWritten = false;

  /**
   * A record whose last line a killed writer cut off would glue that piece to this run's header:
   * the piece goes first (it was never a whole event), so the file stays one JSON object a line.
   */
  function cutOffUnfinishedLine(): void {
    const keep = lengthUpToLastNewline(path);
    if (keep !== undefined) truncateSync(path, keep);
  }

  /** One append per batch, whole lines only: a killed process leaves a record cut between lines. */
  function write(batch: Batch): void {
    let text = '';
    for (const event of batch.events) text += serializeEventLine(event);
    if (!headerWritten) {
      cutOffUnfinishedLine();
      file.append(path, serializeRunHeader(batch.run) + text);
      headerWritten = true;
    } else {
      file.append(path, text);
    }
  }

  return {
    name: `jsonl:${path}`,
    // Synchronous, like the directory sink: the record grows while a loop that never yields trains.
    send: write,
    sendSync: write,
    close() {
      file.closeAll();
    },
  };
}
