/**
 * Streams a JSONL record (the JSONL sink's file, or an HTTP sink's spool, whose runs of metric
 * points are lines of metric columns, expanded here) line by line, run by run, in chunks of at most `chunkEvents` events: a record of millions of events is synced in the
 * memory of one chunk, never read into one string. Each chunk is checked against protocol v1, so
 * a record that is not one fails naming the file, the line and the field.
 *
 * A last line without a newline that is not JSON was cut off by a killed writer: it is skipped,
 * with a note, and everything before it is kept. Any other line that is not JSON is an error.
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { RunEvent, RunIdentity } from '@livestep/core';
import {
  expandMetricColumns,
  METRIC_COLUMNS_KIND,
  type MetricColumns,
  metricColumnsIssues,
  validateBatch,
} from '@livestep/core/protocol';

/** Events handed on at a time: the size of one request of the live pipeline. */
export const RECORD_CHUNK_EVENTS = 1_000;

export interface RecordChunk {
  run: RunIdentity;
  events: RunEvent[];
  /** How much of the source was read when this chunk was complete, from 0 to 1 (progress). */
  fraction: number;
  /** The run folder the chunk was read from, when it was read from one (Studio paths follow it). */
  folder?: string;
}

export interface ReadRecordOptions {
  chunkEvents?: number;
  onWarning?: (message: string) => void;
}

/** True when the file's last byte is a newline (or the file is empty). */
function endsWithNewline(path: string): boolean {
  const descriptor = openSync(path, 'r');
  try {
    const size = fstatSync(descriptor).size;
    if (size === 0) return true;
    const last = Buffer.alloc(1);
    readSync(descriptor, last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    closeSync(descriptor);
  }
}

function notARecord(path: string, line: number, what: string): SyntaxError {
  return new SyntaxError(
    `livestep: line ${line} of ${path} ${what}; livestep sync takes a run folder (DVCLive layout), a .jsonl record written by the JSONL sink or an HTTP sink's spool, or a folder of such records`,
  );
}

export async function* readJsonlRecord(
  path: string,
  options: ReadRecordOptions = {},
): AsyncGenerator<RecordChunk> {
  const chunkEvents = options.chunkEvents ?? RECORD_CHUNK_EVENTS;
  const size = Math.max(1, statSync(path).size);
  const stream = createReadStream(path);
  let bytesRead = 0;
  stream.on('data', (chunk) => {
    bytesRead += chunk.length;
  });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let run: RunIdentity | undefined;
  let events: RunEvent[] = [];
  let lineNumber = 0;
  /** A line that is not JSON: an error, unless it turns out to be the cut-off last line. */
  let unparsed: number | undefined;

  const chunk = (): RecordChunk => {
    const batch = { protocol: 1, run, events };
    const validation = validateBatch(batch);
    if (!validation.ok) {
      const issue = validation.issues[0]!;
      throw new SyntaxError(
        `livestep: ${path} is not a valid record: ${issue.path}: ${issue.message} (in the ${events.length} events before line ${lineNumber + 1})`,
      );
    }
    const done = { run: run!, events, fraction: Math.min(1, bytesRead / size) };
    events = [];
    return done;
  };

  try {
    for await (const line of lines) {
      lineNumber++;
      if (unparsed !== undefined) throw notARecord(path, unparsed, 'is not JSON');
      if (line.trim() === '') continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line);
      } catch {
        unparsed = lineNumber;
        continue;
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) {
        throw notARecord(path, lineNumber, 'is not a JSON object');
      }
      if ('protocol' in record && 'run' in record && !('kind' in record)) {
        if (run !== undefined && events.length > 0) yield chunk();
        run = record.run as RunIdentity;
        const header = validateBatch({ protocol: record.protocol, run, events: [] });
        if (!header.ok) {
          const issue = header.issues[0]!;
          throw new SyntaxError(
            `livestep: ${path} is not a valid record: ${issue.path}: ${issue.message} (the run header on line ${lineNumber})`,
          );
        }
        continue;
      }
      if (run === undefined)
        throw notARecord(path, lineNumber, 'is an event before any run header');
      if (record.kind === METRIC_COLUMNS_KIND) {
        // An HTTP sink's spool keeps runs of metric points as one line of columns.
        const issue = metricColumnsIssues(record)[0];
        if (issue !== undefined) {
          throw new SyntaxError(
            `livestep: ${path} is not a valid record: ${issue.path}: ${issue.message} (the metric columns on line ${lineNumber})`,
          );
        }
        for (const event of expandMetricColumns(record as unknown as MetricColumns)) {
          events.push(event);
          if (events.length >= chunkEvents) yield chunk();
        }
        continue;
      }
      events.push(record as unknown as RunEvent);
      if (events.length >= chunkEvents) yield chunk();
    }
  } finally {
    lines.close();
    stream.destroy();
  }
  if (unparsed !== undefined) {
    if (endsWithNewline(path)) throw notARecord(path, unparsed, 'is not JSON');
    options.onWarning?.(
      `livestep: line ${unparsed} of ${path} was cut off (its writer was killed in the middle of an append); syncing everything before it`,
    );
  }
  if (run === undefined) {
    throw notARecord(path, Math.max(1, lineNumber), 'ends the file without any run header');
  }
  if (events.length > 0) yield chunk();
}
