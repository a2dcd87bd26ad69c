import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJsonl, serializeEventLine } from '../protocol/jsonl-record.js';
import { validateBatch } from '../protocol/validate-batch.js';
import { Run } from '../run/run.js';
import { createJsonlSink } from './jsonl-sink.js';
import { createMemorySink } from './memory-sink.js';

describe('JSONL sink', () => {
  it('keeps a complete record of the run that replays into valid batches', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'livestep-jsonl-')), 'nested', 'run.jsonl');
    const memory = createMemorySink();
    const run = new Run({
      sinks: [createJsonlSink({ path }), memory],
      exitHooks: false,
      collectGit: false,
      params: { lr: 0.1 },
    });
    run.logMetric('train/naïve — loss', 1.5, { labels: { k: 'v' } });
    run.logMetric('nan', Number.NaN);
    run.annotate('note', { level: 'warning' });
    await run.end('interrupted');

    const [record, ...rest] = parseJsonl(readFileSync(path, 'utf8'));
    expect(rest).toEqual([]);
    expect(record!.run).toEqual({ id: run.id, experiment: run.experiment, name: run.name });
    // What was written is exactly what the other sinks received.
    expect(record!.events).toEqual(JSON.parse(JSON.stringify(memory.events)));
    expect(validateBatch({ protocol: 1, run: record!.run, events: record!.events }).ok).toBe(true);
    expect(record!.events.at(-1)).toMatchObject({ kind: 'done', status: 'interrupted' });
  });

  it('serializes metric events exactly as JSON.stringify would', () => {
    const event = {
      id: '0a1b2c3d-0000-8000-8000-000000000001',
      seq: 1,
      ts: 1_700_000_000_123,
      kind: 'metric' as const,
      name: 'a/"b"\u2028',
      value: -1.25e-7,
      step: 3,
      labels: { x: 'y' },
    };
    expect(serializeEventLine(event)).toBe(`${JSON.stringify(event)}\n`);
    const nan = { ...event, value: 'nan' as const, labels: undefined };
    delete (nan as { labels?: unknown }).labels;
    expect(serializeEventLine(nan)).toBe(`${JSON.stringify(nan)}\n`);
  });

  it('appends several runs to one file, each after its own header', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'livestep-jsonl-')), 'runs.jsonl');
    for (const name of ['first', 'second']) {
      const run = new Run({
        name,
        sinks: [createJsonlSink({ path })],
        exitHooks: false,
        collectGit: false,
      });
      run.logMetric('m', 1);
      await run.end();
    }
    expect(
      parseJsonl(readFileSync(path, 'utf8')).map((record) => [
        record.run.name,
        record.events.length,
      ]),
    ).toEqual([
      ['first', 3],
      ['second', 3],
    ]);
  });

  it('says which line is broken', () => {
    expect(() => parseJsonl('{"protocol":1,"run":{}}\nnot json\n')).toThrow(
      /line 2 of the JSONL record is not JSON/,
    );
    expect(() => parseJsonl('{"kind":"metric"}\n')).toThrow(
      /line 1 is an event before any run header/,
    );
  });

  it('keeps everything before a last line cut off by a killed writer, and says so', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'livestep-jsonl-')), 'run.jsonl');
    const run = new Run({
      experiment: 'e',
      name: 'n',
      sinks: [createJsonlSink({ path })],
      exitHooks: false,
      collectGit: false,
    });
    for (let step = 0; step < 3; step++) run.logMetric('loss', step, { step });
    await run.end();
    const whole = readFileSync(path, 'utf8');
    // What an out-of-memory kill in the middle of an append leaves: half a line, no newline.
    const cut = whole.slice(0, whole.length - 20);
    const cutOff: number[] = [];
    const [record] = parseJsonl(cut, { onCutOffLine: (line) => cutOff.push(line) });
    expect(record!.events.map((event) => event.kind)).toEqual([
      'start',
      'metric',
      'metric',
      'metric',
    ]);
    expect(cutOff).toEqual([6]);
    // A broken line that is followed by others is not a cut-off append: still an error.
    expect(() => parseJsonl(`${cut}\n${whole.split('\n')[1]}\n`)).toThrow(/line 6 .* is not JSON/);
  });

  it('requires a path', () => {
    expect(() => createJsonlSink({} as { path: string })).toThrow(/needs \{ path \}/);
  });
});

describe('JSONL record after a killed writer', () => {
  it('a run appended after a torn last line starts on a line of its own, and the record parses', async () => {
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { Run } = await import('../run/run.js');
    const path = join(mkdtempSync(join(tmpdir(), 'livestep-jsonl-torn-')), 'run.jsonl');
    const first = new Run({
      exitHooks: false,
      collectGit: false,
      sinks: [createJsonlSink({ path })],
    });
    first.logMetric('loss', 1);
    await first.end();
    // A kill in the middle of an append leaves half a line.
    writeFileSync(path, `${readFileSync(path, 'utf8')}{"id":"0000`, { flag: 'w' });
    const second = new Run({
      exitHooks: false,
      collectGit: false,
      sinks: [createJsonlSink({ path })],
    });
    second.logMetric('loss', 2);
    await second.end();
    const runs = parseJsonl(readFileSync(path, 'utf8'));
    expect(runs.map((record) => record.events.map((event) => event.kind))).toEqual([
      ['start', 'metric', 'done'],
      ['start', 'metric', 'done'],
    ]);
  });
});
