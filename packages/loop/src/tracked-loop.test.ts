/**
 * The tracked loop's iteration in `for await`: it keeps the event loop turning (core's
 * yieldToEventLoop) over sync and async sources, stops once its run was ended elsewhere (an exit
 * hook on Ctrl-C), and ends its own run within `endTimeoutMs`.
 */
import type { AnnotationEvent, DoneEvent, MemorySink, Sink } from '@livestep/core';
import { testRunOptions } from '@livestep/test-support';
import { describe, expect, it } from 'vitest';
import { busyFor, captureStream, nextTurn } from './test-support/capture-stream.js';
import { track } from './track.js';

const quiet = { progress: false } as const;

const statuses = (sink: MemorySink) =>
  sink.events
    .filter((event): event is DoneEvent => event.kind === 'done')
    .map((event) => event.status);

const annotations = (sink: MemorySink) =>
  sink.events.filter((event): event is AnnotationEvent => event.kind === 'annotation');

/** Counts the ticks of a 10 ms interval while `body` runs: how often timers got their turn. */
async function timerTicksDuring(body: () => Promise<void>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  try {
    await body();
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

/** One iteration of a loop that never waits for I/O: CPU work, then a settled promise. */
async function computeStep(): Promise<void> {
  busyFor(1);
  await Promise.resolve();
}

/** An async source that never waits for anything: it runs on microtasks alone. */
async function* immediately(count: number): AsyncGenerator<number> {
  for (let index = 0; index < count; index++) yield index;
}

describe('track(): for await keeps the event loop turning', () => {
  // ~300 ms of iterations on microtasks alone; a turn every 50 ms gives the timer ~6 ticks.
  const ITERATIONS = 300;

  it('without track(), a loop on microtasks alone starves the timers (the control)', async () => {
    const ticks = await timerTicksDuring(async () => {
      for await (const _ of Array.from({ length: ITERATIONS }, (_, index) => index)) {
        await computeStep();
      }
    });
    expect(ticks).toBe(0);
  });

  it('over a count (a sync source)', async () => {
    const { runOptions } = testRunOptions();
    const loop = track(ITERATIONS, { ...quiet, runOptions });
    const steps: number[] = [];
    const ticks = await timerTicksDuring(async () => {
      for await (const step of loop) {
        steps.push(loop.run.step);
        expect(step).toBe(steps.length - 1);
        await computeStep();
      }
    });
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(steps).toEqual(Array.from({ length: ITERATIONS }, (_, index) => index));
    expect(loop.run.status).toBe('completed');
  });

  it('over an async source that never waits', async () => {
    const { runOptions } = testRunOptions();
    const loop = track(immediately(ITERATIONS), { ...quiet, runOptions });
    let count = 0;
    const ticks = await timerTicksDuring(async () => {
      for await (const _ of loop) {
        count++;
        await computeStep();
      }
    });
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(count).toBe(ITERATIONS);
    expect(loop.run.status).toBe('completed');
  });

  it('break in for await over a sync source: the source is closed, the run ends completed with the note', async () => {
    const { sink, runOptions } = testRunOptions();
    let closed = false;
    function* source() {
      try {
        for (let index = 0; ; index++) yield index;
      } finally {
        closed = true;
      }
    }
    const loop = track(source(), { ...quiet, runOptions });
    for await (const index of loop) if (index === 2) break;
    expect(closed).toBe(true);
    await nextTurn();
    expect(loop.run.status).toBe('completed');
    await loop.end();
    expect(annotations(sink)[0]!.text).toMatch(/^loop stopped early, in iteration 3 \(/);
  });
});

describe('track(): a run ended while the loop runs (Ctrl-C: an exit hook ends it interrupted)', () => {
  it.each([
    ['a sync source', false],
    ['an async source', true],
  ])(
    'for await over %s stops handing out values, and closes the source',
    async (_label, isAsync) => {
      const { sink, runOptions } = testRunOptions();
      let closed = false;
      function* values() {
        try {
          for (let index = 0; ; index++) yield index;
        } finally {
          closed = true;
        }
      }
      async function* asyncValues() {
        yield* values();
      }
      const stream = captureStream();
      const options = { progress: 'lines', stream, lineIntervalMs: 0, runOptions } as const;
      const loop = isAsync ? track(asyncValues(), options) : track(values(), options);
      const seen: number[] = [];
      for await (const index of loop) {
        seen.push(index);
        loop.logMetric('train/loss', index);
        // What the SIGINT hook does, from a turn of the event loop between two iterations.
        if (index === 2) setImmediate(() => void loop.run.end('interrupted'));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      expect(seen).toEqual([0, 1, 2]);
      expect(closed).toBe(true);
      await loop.end();
      expect(statuses(sink)).toEqual(['interrupted']);
      expect(sink.metrics('train/loss').map((event) => event.step)).toEqual([0, 1, 2]);
      expect(stream.text()).toMatch(/interrupted\n$/);
    },
  );
});

describe('track(): endTimeoutMs', () => {
  /** A sink that takes batches and never finishes closing: end() waits for it until its deadline. */
  const stuckSink = (): Sink => ({
    name: 'stuck',
    send: () => {},
    close: () => new Promise(() => {}),
  });

  it('bounds how long the end of the loop’s own run waits for delivery', async () => {
    const { runOptions } = testRunOptions();
    const loop = track(3, {
      ...quiet,
      endTimeoutMs: 100,
      runOptions: { ...runOptions, sinks: [stuckSink()] },
    });
    for (const _ of loop) {
      // work
    }
    const started = performance.now();
    await loop.end();
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(90);
    expect(waited).toBeLessThan(1_000);
  });

  it('a timeout given to loop.end() wins', async () => {
    const { runOptions } = testRunOptions();
    const loop = track(3, {
      ...quiet,
      endTimeoutMs: 10_000,
      runOptions: { ...runOptions, sinks: [stuckSink()] },
    });
    const started = performance.now();
    for (const _ of loop) {
      if (loop.count === 1) await loop.end('completed', { timeoutMs: 50 });
    }
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
