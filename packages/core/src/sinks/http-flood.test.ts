/**
 * A flood with the server down, in a loop that never yields: 5,000,000 points (1,000,000 steps x
 * 5 metrics) logged as fast as a synchronous loop can, in a real child process, to the directory
 * sink, the JSONL sink and the HTTP sink with LIVESTEP_URL on a closed port of 127.0.0.1. No
 * asynchronous work can run until the loop ends, so the HTTP sink must keep its memory bounded by
 * writing its spool from send() itself. Every point must be in every file, and the files are
 * counted as streams, never loaded whole (the JSONL record is about 700 MB, the spool, its metric
 * points in columns, about 140 MB).
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertBuilt, builtEntry, runNodeScript } from '@livestep/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC_COLUMNS_KIND, type MetricColumns } from '../protocol/events.js';
import { DEFAULT_EXIT_TIMEOUT_MS } from '../run/run-options.js';

const builtPackage = builtEntry('@livestep/core', import.meta.url);
const STEPS = 1_000_000;
const METRICS = ['train/loss', 'train/accuracy', 'learning_rate', 'grad_norm', 'throughput'];
/** start + every point + done. */
const EVENTS = STEPS * METRICS.length + 2;
/**
 * The child's peak RSS must stay under this. Measured at 147 MB (Node 20, 2 cores) with the spool
 * written from send(); the sink that spooled asynchronously peaked at 2.8 GB and lost every
 * spooled event (the pending text grew past the longest string V8 allows).
 */
const MAX_PEAK_RSS_MB = 300;
/** The child is killed past this: logging takes about 18 s here (2 cores), 47 s before the fix. */
const CHILD_DEADLINE_MS = 150_000;

let folder: string;
beforeAll(() => {
  assertBuilt(builtPackage);
  folder = mkdtempSync(join(tmpdir(), 'livestep-flood-'));
});
// About 1.5 GB of files: never left behind.
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** A port on 127.0.0.1 that nothing listens on: it was free a moment ago, and is closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
  return port;
}

function runChild(script: string, environment: Record<string, string>) {
  return runNodeScript(script, { env: environment, timeoutMs: CHILD_DEADLINE_MS });
}

interface RecordCount {
  /** Event lines (those with a seq). */
  events: number;
  /** Lines whose seq did not follow the one before (a gap, a duplicate, a reordering). */
  outOfOrder: number;
  first: string;
  last: string;
}

/**
 * Streams a JSONL record: counts its event lines and checks that their seqs run 0, 1, 2, ...
 * without a gap or a repeat (so every event is there, once, in order). Never holds more than a
 * read chunk and one line.
 */
async function countRecord(path: string): Promise<RecordCount> {
  const seqKey = Buffer.from('"seq":');
  const COLUMNS_KIND = Buffer.from(`"kind":"${METRIC_COLUMNS_KIND}"`);
  let leftover = Buffer.alloc(0);
  let expected = 0;
  const count: RecordCount = { events: 0, outOfOrder: 0, first: '', last: '' };
  const line = (buffer: Buffer, start: number, end: number) => {
    // Searched within the line only: a search of the rest of the chunk for each line is quadratic.
    if (buffer.subarray(start, end).includes(COLUMNS_KIND)) {
      // A spool's run of metric points: one line of columns, its seqs summed from their deltas.
      const columns = JSON.parse(buffer.toString('utf8', start, end)) as MetricColumns;
      let seq = 0;
      for (const delta of columns.seqDeltas) {
        seq += delta;
        if (seq !== expected) count.outOfOrder++;
        expected = seq + 1;
        count.events++;
      }
      return;
    }
    const at = buffer.indexOf(seqKey, start);
    if (at === -1 || at >= end) return; // the run header
    let seq = 0;
    for (let index = at + seqKey.length; index < end; index++) {
      const digit = buffer[index]! - 48;
      if (digit < 0 || digit > 9) break;
      seq = seq * 10 + digit;
    }
    if (seq !== expected) count.outOfOrder++;
    expected = seq + 1;
    if (count.events === 0) count.first = buffer.toString('utf8', start, end);
    count.events++;
    count.last = buffer.toString('utf8', start, Math.min(end, start + 400));
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) {
    const buffer =
      leftover.length > 0 ? Buffer.concat([leftover, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (;;) {
      const newline = buffer.indexOf(10, start);
      if (newline === -1) break;
      line(buffer, start, newline);
      start = newline + 1;
    }
    leftover = Buffer.from(buffer.subarray(start));
  }
  if (leftover.length > 0) line(leftover, 0, leftover.length);
  return count;
}

/** Rows of a TSV (lines after the header), counted as a stream, and its last row. */
async function countTsv(path: string): Promise<{ rows: number; lastRow: string }> {
  let newlines = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) {
    const buffer = chunk as Buffer;
    for (let at = buffer.indexOf(10); at !== -1; at = buffer.indexOf(10, at + 1)) newlines++;
  }
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const tail = Buffer.alloc(Math.min(size, 256));
    await file.read(tail, 0, tail.length, size - tail.length);
    const lines = tail.toString('utf8').trimEnd().split('\n');
    return { rows: newlines - 1, lastRow: lines.at(-1)! };
  } finally {
    await file.close();
  }
}

describe('HTTP sink in a flood, server down, loop never yields', () => {
  it(`keeps ${(EVENTS - 2).toLocaleString('en')} points in every sink, in bounded memory, and ends within the exit deadline`, async () => {
    const port = await closedPort();
    const script = join(folder, 'flood.mjs');
    writeFileSync(
      script,
      `import { join } from 'node:path';
import { createDirectorySink, createHttpSink, createJsonlSink, startRun } from ${JSON.stringify(pathToFileURL(builtPackage).href)};
const folder = ${JSON.stringify(folder)};
const names = ${JSON.stringify(METRICS)};
const warnings = [];
const run = startRun({
  experiment: 'flood', name: 'flood', collectGit: false, collectMachine: false,
  sinks: [
    createDirectorySink({ directory: join(folder, 'run') }),
    createJsonlSink({ path: join(folder, 'run.jsonl') }),
    createHttpSink({ url: process.env.LIVESTEP_URL, spoolDirectory: join(folder, 'spool'), onWarning: (message) => warnings.push(message) }),
  ],
});
const started = performance.now();
// A synchronous loop: no await, so nothing asynchronous runs until it ends.
for (let step = 0; step < ${STEPS}; step++) {
  for (let index = 0; index < 5; index++) run.logMetric(names[index], step * 10 + index, { step });
}
const logged = performance.now();
const report = await run.end();
const ended = performance.now();
console.log(JSON.stringify({
  logMs: logged - started,
  endMs: ended - logged,
  peakRssMb: process.resourceUsage().maxRSS / 1024,
  report,
  warnings,
}));
`,
    );
    const outcome = await runChild(script, { LIVESTEP_URL: `http://127.0.0.1:${port}` });
    expect(outcome.signal, `killed after ${CHILD_DEADLINE_MS} ms`).toBeNull();
    expect(outcome.code, outcome.stderr).toBe(0);
    const result = JSON.parse(outcome.stdout);
    console.log(
      `flood: ${(EVENTS - 2).toLocaleString('en')} points logged in ${Math.round(result.logMs)} ms, end() ${Math.round(result.endMs)} ms, peak RSS ${Math.round(result.peakRssMb)} MB`,
    );
    expect(result.peakRssMb).toBeLessThan(MAX_PEAK_RSS_MB);
    expect(result.endMs).toBeLessThan(DEFAULT_EXIT_TIMEOUT_MS);

    const [directory, jsonl, http] = result.report.sinks;
    expect(directory).toMatchObject({ pending: 0, failed: 0 });
    expect(jsonl).toMatchObject({ pending: 0, failed: 0 });
    expect(http).toMatchObject({ pending: EVENTS, spooled: EVENTS, failed: 0 });

    for (const path of [join(folder, 'run.jsonl'), http.spoolPath as string]) {
      const count = await countRecord(path);
      expect(count, path).toMatchObject({ events: EVENTS, outOfOrder: 0 });
      expect(JSON.parse(count.first)).toMatchObject({ kind: 'start', seq: 0 });
      expect(JSON.parse(count.last)).toMatchObject({
        kind: 'done',
        seq: EVENTS - 1,
        status: 'completed',
      });
    }

    const metricsFolder = join(folder, 'run', 'plots', 'metrics');
    for (const [index, name] of METRICS.entries()) {
      const { rows, lastRow } = await countTsv(join(metricsFolder, `${name}.tsv`));
      expect(rows, name).toBe(STEPS);
      expect(lastRow.split('\t').slice(1)).toEqual([
        String(STEPS - 1),
        String((STEPS - 1) * 10 + index),
      ]);
    }
    const summary = JSON.parse(readFileSync(join(folder, 'run', 'metrics.json'), 'utf8'));
    expect(summary).toEqual({
      train: { loss: (STEPS - 1) * 10, accuracy: (STEPS - 1) * 10 + 1 },
      learning_rate: (STEPS - 1) * 10 + 2,
      grad_norm: (STEPS - 1) * 10 + 3,
      throughput: (STEPS - 1) * 10 + 4,
      step: STEPS - 1,
    });
  }, 240_000);
});
