import type { DoneEvent, MemorySink } from '@livestep/core';
import { startTestRun, testRunOptions } from '@livestep/test-support';
import { describe, expect, it } from 'vitest';
import { busyFor } from './test-support/capture-stream.js';
import { trackEach } from './track-each.js';

const statuses = (sink: MemorySink) =>
  sink.events
    .filter((event): event is DoneEvent => event.kind === 'done')
    .map((event) => event.status);

async function* batches(count: number): AsyncGenerator<number> {
  for (let index = 0; index < count; index++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    yield index;
  }
}

describe('trackEach()', () => {
  it('runs the body once per value, one step each, and ends its own run completed', async () => {
    const { sink, runOptions } = testRunOptions();
    const seen: Array<[number, number]> = [];
    const report = await trackEach(
      [10, 20, 30],
      (value, loop) => {
        seen.push([value, loop.run.step]);
        loop.logMetric('train/loss', value);
      },
      { progress: false, runOptions },
    );
    expect(report?.ok).toBe(true);
    expect(seen).toEqual([
      [10, 0],
      [20, 1],
      [30, 2],
    ]);
    expect(sink.metrics('train/loss').map((event) => event.step)).toEqual([0, 1, 2]);
    expect(statuses(sink)).toEqual(['completed']);
  });

  it('an async body over an async source; false stops early, completed with a note', async () => {
    const { sink, runOptions } = testRunOptions();
    const seen: number[] = [];
    await trackEach(
      batches(10),
      async (index) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        seen.push(index);
        return index < 3;
      },
      { progress: false, runOptions },
    );
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(statuses(sink)).toEqual(['completed']);
    expect(sink.events.filter((event) => event.kind === 'annotation')).toHaveLength(1);
  });

  it('a throwing body: the run ends failed with the error before it is rethrown', async () => {
    const { sink, runOptions } = testRunOptions();
    const error = new Error('diverged');
    await expect(
      trackEach(
        5,
        async (step) => {
          if (step === 2) throw error;
        },
        { progress: false, runOptions },
      ),
    ).rejects.toBe(error);
    expect(statuses(sink)).toEqual(['failed']);
    const done = sink.events.find((event) => event.kind === 'done') as DoneEvent;
    expect(done.error?.message).toBe('diverged');
  });

  it('with a given run: steps continue, the run stays open even when the body throws', async () => {
    const { run, sink } = startTestRun();
    expect(await trackEach(2, () => {}, { progress: false, run })).toBeUndefined();
    await expect(
      trackEach(
        3,
        () => {
          throw new Error('x');
        },
        { progress: false, run },
      ),
    ).rejects.toThrow('x');
    expect(run.status).toBe('running');
    expect(run.step).toBe(3);
    await run.end();
    expect(statuses(sink)).toEqual(['completed']);
  });

  it('keeps the event loop turning while a body that never waits for I/O runs', async () => {
    const { runOptions } = testRunOptions();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    // ~300 ms of bodies on microtasks alone: timers get a turn every 50 ms.
    const report = await trackEach(
      300,
      async () => {
        busyFor(1);
        await Promise.resolve();
      },
      { progress: false, runOptions },
    );
    clearInterval(timer);
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(report?.ok).toBe(true);
  });

  it('names the fix when the body is not a function', async () => {
    await expect(trackEach([1], undefined as never)).rejects.toThrow(
      /trackEach\(\) got undefined as its body; pass a function/,
    );
  });
});
