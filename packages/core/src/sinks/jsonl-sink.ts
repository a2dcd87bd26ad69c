/**
 * The JSONL sink keeps a complete record of a run, one JSON object per line: first a header line
 * `{"protocol":1,"run":{...}}`, then every event as it was sent. It is the offline record that
 * can be replayed to a server later, and the cheapest sink there is: metric events (the bulk of
 * any run) are written by string concatenation, not JSON.stringify.
 */
import { closeSync, fstatSync, openSync, readSync, truncateSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Sink } from '../pipeline/sink.js';
import type { Batch, MetricEvent, RunEvent, RunIdentity } from '../protocol/events.js';
import { PROTOCOL_VERSION } from '../protocol/events.js';
import { createAppendFiles } from './append-files.js';

export interface JsonlSinkOptions {
  /** The file to append to (created with its folders). Several runs may share one file. */
  path: string;
}

/** Names repeat on every step: their JSON form is computed once. Bounded like the name cache. */
const QUOTED_NAMES_CACHE_SIZE = 10_000;
const quotedNames = new Map<string, string>();

function quoted(name: string): string {
  let text = quotedNames.get(name);
  if (text === undefined) {
    text = JSON.stringify(name);
    if (quotedNames.size >= QUOTED_NAMES_CACHE_SIZE) quotedNames.clear();
    quotedNames.set(name, text);
  }
  return text;
}

function serializeMetric(event: MetricEvent): string {
  const value = typeof event.value === 'number' ? event.value : `"${event.value}"`;
  const labels = event.labels === undefined ? '' : `,"labels":${JSON.stringify(event.labels)}`;
  return `{"id":"${event.id}","seq":${event.seq},"ts":${event.ts},"kind":"metric","name":${quoted(event.name)},"value":${value},"step":${event.step}${labels}}\n`;
}

/** One line per event, the same JSON a server receives. */
export function serializeEventLine(event: RunEvent): string {
  return event.kind === 'metric' ? serializeMetric(event) : `${JSON.stringify(event)}\n`;
}

export function serializeRunHeader(run: RunIdentity): string {
  return `${JSON.stringify({ protocol: PROTOCOL_VERSION, run })}\n`;
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

export interface ParseJsonlOptions {
  /**
   * Called when the last line is cut off: the writer was killed in the middle of an append (an
   * out-of-memory kill, a power cut). That line is skipped, and everything before it is kept.
   */
  onCutOffLine?: (lineNumber: number) => void;
}

/**
 * Reads a JSONL record back into the run it describes and its events (for replay and tests). A
 * cut-off last line (not JSON, no newline after it) is skipped; any other line that is not JSON
 * is an error naming it.
 */
export function parseJsonl(
  text: string,
  options: ParseJsonlOptions = {},
): { run: RunIdentity; events: RunEvent[] }[] {
  const runs: { run: RunIdentity; events: RunEvent[] }[] = [];
  let current: { run: RunIdentity; events: RunEvent[] } | undefined;
  const lines = text.split('\n');
  // Text after the last newline is a line whose append never finished (or a file without a
  // final newline, which parses fine and is kept).
  const unfinishedLine = lines.length - 1;
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch {
      if (index === unfinishedLine) {
        options.onCutOffLine?.(index + 1);
        return;
      }
      throw new SyntaxError(`livestep: line ${index + 1} of the JSONL record is not JSON`);
    }
    if ('protocol' in record && 'run' in record && !('kind' in record)) {
      current = { run: record.run as RunIdentity, events: [] };
      runs.push(current);
      return;
    }
    if (current === undefined) {
      throw new SyntaxError(`livestep: line ${index + 1} is an event before any run header`);
    }
    current.events.push(record as unknown as RunEvent);
  });
  return runs;
}
