import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Batch, MetricEvent, RunIdentity } from '../protocol/events.js';
import { METRIC_COLUMNS_KIND, PROTOCOL_VERSION } from '../protocol/events.js';
import { parseJsonl } from '../protocol/jsonl-record.js';
import { metricColumnsIssues } from '../protocol/validate-batch.js';
import { Spool } from './spool.js';

const RUN: RunIdentity = { id: 'run-1', experiment: 'spool', name: 'spool-run' };

function batchOf(first: number, count: number): Batch {
  const events: MetricEvent[] = [];
  for (let index = first; index < first + count; index++) {
    events.push({
      kind: 'metric',
      id: `e${index}`,
      seq: index,
      ts: 1_700_000_000_000 + index,
      name: 'm',
      value: index,
      step: index,
    });
  }
  return { protocol: PROTOCOL_VERSION, run: RUN, events };
}

function spoolFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'livestep-spool-test-')), 'run-1.jsonl');
}

/** Reads and acknowledges everything in the spool, in chunks of `chunkEvents`. */
async function drain(spool: Spool, chunkEvents: number): Promise<number[]> {
  const values: number[] = [];
  while (!spool.drained) {
    const chunk = await spool.read(chunkEvents);
    for (const event of chunk.events) values.push((event as MetricEvent).value as number);
    spool.acknowledge(chunk.endOffset);
  }
  return values;
}

describe('Spool', () => {
  it('gives batches back in order, in chunks, and remembers the delivered offset on disk', async () => {
    const path = spoolFile();
    const spool = new Spool(path, RUN);
    spool.append(batchOf(0, 5));
    spool.append(batchOf(5, 5));
    const first = await spool.read(3);
    expect(first.events.map((event) => event.id)).toEqual(['e0', 'e1', 'e2']);
    spool.acknowledge(first.endOffset);
    expect(readFileSync(`${path}.offset`, 'utf8')).toBe(String(first.endOffset));
    expect(await drain(spool, 3)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    // The file is a JSONL record: the run header first, so `livestep sync` can replay it.
    const [header] = readFileSync(path, 'utf8').split('\n');
    expect(JSON.parse(header!)).toMatchObject({ run: RUN });
  });

  it('has every batch on disk when append returns, and is drained once all is acknowledged', async () => {
    const path = spoolFile();
    const spool = new Spool(path, RUN);
    spool.append(batchOf(0, 2));
    expect(spool.drained).toBe(false);
    // No await in between: a loop that never yields still finds its batches in the file.
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines.slice(1).map((line) => JSON.parse(line).id)).toEqual(['e0', 'e1']);
    expect(await drain(spool, 10)).toEqual([0, 1]);
    expect(spool.drained).toBe(true);
  });

  it('starts a new file with its header after the drained one was removed', async () => {
    const path = spoolFile();
    const spool = new Spool(path, RUN);
    spool.append(batchOf(0, 3));
    expect(await drain(spool, 10)).toEqual([0, 1, 2]);
    spool.remove();
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.offset`)).toBe(false);
    spool.append(batchOf(3, 2));
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0]!)).toMatchObject({ run: RUN });
    expect(await drain(spool, 10)).toEqual([3, 4]);
  });

  it('writes one line per event, and reads a line longer than one read chunk whole', async () => {
    const spool = new Spool(spoolFile(), RUN);
    const long: Batch = {
      protocol: PROTOCOL_VERSION,
      run: RUN,
      events: [
        {
          kind: 'annotation',
          id: 'long',
          seq: 0,
          ts: 1_700_000_000_000,
          text: 'x'.repeat(3 * 1024 * 1024),
          level: 'info',
        },
      ],
    };
    spool.append(long);
    spool.append(batchOf(1, 1));
    const ids: string[] = [];
    while (!spool.drained) {
      const chunk = await spool.read(10);
      ids.push(...chunk.events.map((event) => event.id));
      spool.acknowledge(chunk.endOffset);
    }
    expect(ids).toEqual(['long', 'e1']);
  });

  it('does not replay a file it finds there (one it could not delete), and adds no second header', async () => {
    const path = spoolFile();
    const first = new Spool(path, RUN);
    first.append(batchOf(0, 2));
    first.close();
    const spool = new Spool(path, RUN);
    spool.append(batchOf(2, 1));
    expect(await drain(spool, 10)).toEqual([2]);
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line).id ?? 'header')).toEqual([
      'header',
      'e0',
      'e1',
      'e2',
    ]);
  });

  it('keeps a run of metric points as one line of columns, about 30 bytes a point, that every reader expands', async () => {
    const path = spoolFile();
    const spool = new Spool(path, RUN);
    // Ids as core's Run makes them (a run-wide prefix, then the seq): one prefix for the block.
    const prefix = '8d0c1f2a-3b4c-4d5e-9f60-';
    const points = (first: number, count: number): MetricEvent[] =>
      Array.from({ length: count }, (_, offset) => ({
        kind: 'metric' as const,
        id: prefix + (first + offset).toString(16).padStart(12, '0'),
        seq: first + offset,
        ts: 1_700_000_000_000 + first + offset,
        name: offset % 2 === 0 ? 'train/loss' : 'train/accuracy',
        value: offset === 7 ? 'nan' : Math.sin(first + offset),
        step: (first + offset) >> 1,
      }));
    const annotation = {
      kind: 'annotation' as const,
      id: `${prefix}${(5_000).toString(16).padStart(12, '0')}`,
      seq: 5_000,
      ts: 1_700_000_005_000,
      text: 'lr drop',
      level: 'info' as const,
    };
    const events = [...points(0, 5_000), annotation, ...points(5_001, 3)];
    spool.append({ protocol: PROTOCOL_VERSION, run: RUN, events });
    const text = readFileSync(path, 'utf8');
    const lines = text.trimEnd().split('\n');
    // The header, the 5,000 points as one line, the annotation, and the 3 points too few for columns.
    expect(lines.map((line) => JSON.parse(line).kind ?? 'header')).toEqual([
      'header',
      METRIC_COLUMNS_KIND,
      'annotation',
      'metric',
      'metric',
      'metric',
    ]);
    expect(Buffer.byteLength(lines[1]!) / 5_000).toBeLessThan(40);
    // Every reader of a JSONL record gets the events back, NaN kept.
    expect(parseJsonl(text)).toEqual([{ run: RUN, events }]);
    expect(await drain(spool, 100_000)).toHaveLength(events.length);
  });

  it("hands whole lines back as a request's events text, up to the events asked for, parsing none", async () => {
    const spool = new Spool(spoolFile(), RUN);
    // Protocol ids (UUIDs; `batchOf`'s short ones are refused by a columns check).
    const withUuids = (batch: Batch): Batch => ({
      ...batch,
      events: batch.events.map((event) => ({
        ...event,
        id: `00000000-0000-4000-8000-${event.seq.toString(16).padStart(12, '0')}`,
      })),
    });
    const batches = [batchOf(0, 100), batchOf(100, 100), batchOf(200, 1)].map(withUuids);
    for (const batch of batches) spool.append(batch);
    // Two columns lines of 100 points and one event line: 150 events asked for take one line.
    const first = await spool.readWire(150);
    expect(first).toMatchObject({ count: 100, columns: true });
    const wire = JSON.parse(`[${first.wire}]`);
    expect(wire).toHaveLength(1);
    expect(metricColumnsIssues(wire[0])).toEqual([]);
    expect(first.decode()).toEqual(batches[0]!.events);
    // Not acknowledged: the same lines again.
    expect((await spool.readWire(150)).wire).toBe(first.wire);
    spool.acknowledge(first.endOffset);
    // A line is never cut: one line holding more events than asked for comes whole.
    const second = await spool.readWire(10);
    expect(second.count).toBe(100);
    spool.acknowledge(second.endOffset);
    const last = await spool.readWire(10);
    expect(last).toMatchObject({ count: 1, columns: false });
    expect(JSON.parse(`[${last.wire}]`)).toEqual(batches[2]!.events);
    spool.acknowledge(last.endOffset);
    expect(spool.drained).toBe(true);
    expect(await spool.readWire(10)).toMatchObject({ count: 0, wire: '' });
  });

  it('writes the delivered offset to disk at most every 200 ms, the latest one once that passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const path = spoolFile();
      const spool = new Spool(path, RUN);
      for (let batch = 0; batch < 3; batch++) spool.append(batchOf(batch * 2, 2));
      const offsets: number[] = [];
      for (let chunk = 0; chunk < 3; chunk++) {
        const read = await spool.readWire(2);
        offsets.push(read.endOffset);
        spool.acknowledge(read.endOffset);
        if (chunk === 0) vi.advanceTimersByTime(50);
        if (chunk === 1) vi.advanceTimersByTime(200);
      }
      // The first at once; the second within 200 ms of it, not written; the third, later, is.
      expect(readFileSync(`${path}.offset`, 'utf8')).toBe(String(offsets[2]));
      expect(spool.drained).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps the offset of the first acknowledgement when the next comes within 200 ms', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const path = spoolFile();
      const spool = new Spool(path, RUN);
      spool.append(batchOf(0, 2));
      spool.append(batchOf(2, 2));
      const first = await spool.readWire(2);
      spool.acknowledge(first.endOffset);
      vi.advanceTimersByTime(100);
      const second = await spool.readWire(2);
      spool.acknowledge(second.endOffset);
      expect(readFileSync(`${path}.offset`, 'utf8')).toBe(String(first.endOffset));
    } finally {
      vi.useRealTimers();
    }
  });
});
