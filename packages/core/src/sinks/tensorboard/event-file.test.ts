/**
 * An event file on a disk that fails part way through a write (a full disk): the torn record is
 * cut back, so the file stays whole records only, and the next write lands right after them.
 * When even the cut fails, the file takes nothing more and the sink starts a new one.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/** What the next writeSync and ftruncateSync do: as usual, or fail (a disk that filled up). */
const disk = vi.hoisted(() => ({ failNextWrite: false, failTruncate: false }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const full = () =>
    Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  return {
    ...fs,
    writeSync: (
      fd: number,
      buffer: Uint8Array,
      offset: number,
      length: number,
      position: number,
    ) => {
      if (!disk.failNextWrite) return fs.writeSync(fd, buffer, offset, length, position);
      disk.failNextWrite = false;
      // Half the bytes reach the disk, then it is full.
      fs.writeSync(fd, buffer, offset, Math.floor(length / 2), position);
      throw full();
    },
    ftruncateSync: (fd: number, length: number) => {
      if (disk.failTruncate) throw full();
      fs.ftruncateSync(fd, length);
    },
  };
});

const { createEventFile } = await import('./event-file.js');
const { encodeFileVersionEvent, encodeSummaryEvent } = await import('./event-proto.js');
const { frameRecords } = await import('./tfrecord.js');
const { createTensorBoardSink } = await import('./tensorboard-sink.js');
const { readEventFile, scalarsOf } = await import('./test-support/event-file-reader.js');

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'livestep-event-file-'));
  disk.failNextWrite = false;
  disk.failTruncate = false;
});
afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

const scalar = (step: number, value: number) =>
  encodeSummaryEvent(1_700_000_000 + step, step, { tag: 'loss', kind: 'scalar', value });

describe('an event file on a failing disk', () => {
  it('cuts a torn record back, and the next write follows the last whole one', () => {
    const file = createEventFile(folder, 1_700_000_000_000, 'host', '.v2');
    file.append([scalar(1, 0.5)]);
    disk.failNextWrite = true;
    expect(() => file.append([scalar(2, 0.25), scalar(3, 0.125)])).toThrow(/ENOSPC/);
    expect(file.usable).toBe(true);
    file.append([scalar(4, 0.0625)]);
    file.close();
    const events = readEventFile(file.path);
    expect(events[0]!.fileVersion).toBe('brain.Event:2');
    expect(
      scalarsOf(events)
        .get('loss')!
        .map((point) => point.step),
    ).toEqual([1, 4]);
    // Nothing but those three whole records: no torn bytes, no gap.
    const whole = frameRecords([
      encodeFileVersionEvent(1_700_000_000),
      scalar(1, 0.5),
      scalar(4, 0.0625),
    ]);
    expect(readFileSync(file.path)).toEqual(whole);
  });

  it('gives the file up when the cut fails too; the sink then starts a new file and counts what was lost', async () => {
    const warnings: string[] = [];
    const sink = createTensorBoardSink({
      directory: folder,
      hostname: 'host',
      onWarning: (message) => warnings.push(message),
    });
    const batch = (seq: number, value: number) => ({
      protocol: 1 as const,
      run: { id: '00000000-0000-4000-8000-000000000000', experiment: 'e', name: 'r' },
      events: [
        {
          id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
          seq,
          ts: 1_700_000_000_000 + seq,
          kind: 'metric' as const,
          name: 'train/loss',
          value,
          step: seq,
        },
      ],
    });
    sink.send(batch(0, 1));
    disk.failNextWrite = true;
    disk.failTruncate = true;
    sink.send(batch(1, 2));
    disk.failTruncate = false;
    sink.send(batch(2, 3));
    await sink.close?.({ deadline: Date.now() + 1000 });
    expect(sink.report?.()).toMatchObject({ pending: 0, failedByReason: { send_error: 1 } });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/disk refused a write/);
    const files = readdirSync(join(folder, 'train')).sort();
    expect(files).toHaveLength(2);
    // The given-up file is read up to its torn end; the new one holds what followed.
    const steps = files.flatMap((name) =>
      scalarsOf(readEventFile(join(folder, 'train', name)))
        .get('loss')!
        .map((point) => point.step),
    );
    expect(steps.sort()).toEqual([0, 2]);
  });
});
