import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Batch, MetricEvent, RunIdentity } from '../protocol/events.js';
import { PROTOCOL_VERSION } from '../protocol/events.js';
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
});
